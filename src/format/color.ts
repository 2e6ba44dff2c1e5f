/** Class and tag colours: `#RRGGBB`, upper case on write (spec B.2). */

import { dataError, type TaskErrorContext } from '../errors';
import { describeJsonType } from './json-fields';

const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

/** Validates a colour as the SDK's `hex2rgb` does (exactly 7 characters) and normalises it to upper case. */
export function parseHexColor(value: unknown, where: TaskErrorContext): string {
  if (typeof value !== 'string' || !HEX_COLOR.test(value)) {
    throw dataError(`expected a colour "#RRGGBB", got ${describeJsonType(value)}`, where);
  }
  return value.toUpperCase();
}

export function rgbToHex(r: number, g: number, b: number): string {
  const hex = (v: number): string =>
    Math.max(0, Math.min(255, Math.round(v)))
      .toString(16)
      .padStart(2, '0');
  return `#${hex(r)}${hex(g)}${hex(b)}`.toUpperCase();
}

/**
 * A colour for a tag meta or class that has none. The SDK picks a random hue with lightness 0.3 and saturation
 * 0.8; we derive the hue from the name instead, so the same input always gives the same meta.json.
 */
export function colorForName(name: string): string {
  let hash = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const [r, g, b] = hlsToRgb(hash / 0x100000000, 0.3, 0.8);
  return rgbToHex(r * 255, g * 255, b * 255);
}

/** Python's `colorsys.hls_to_rgb`. */
function hlsToRgb(h: number, l: number, s: number): [number, number, number] {
  const m2 = l <= 0.5 ? l * (1 + s) : l + s - l * s;
  const m1 = 2 * l - m2;
  const v = (hue: number): number => {
    const x = ((hue % 1) + 1) % 1;
    if (x < 1 / 6) return m1 + (m2 - m1) * x * 6;
    if (x < 0.5) return m2;
    if (x < 2 / 3) return m1 + (m2 - m1) * (2 / 3 - x) * 6;
    return m1;
  };
  return [v(h + 1 / 3), v(h), v(h - 1 / 3)];
}
