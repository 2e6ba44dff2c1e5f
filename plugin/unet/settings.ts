/** The U-Net's `custom_model_config`: its type, defaults and checks, all read from settings.schema.json. */
import { configError } from '../../src/errors';
import schemaJson from './settings.schema.json';

export interface UnetSettings {
  depth: number;
  base_filters: number;
  max_filters: number;
  bn_momentum: number;
}

const FIELD_PREFIX = 'custom_model_config';

/** The subset of JSON Schema our numeric properties use. */
interface NumberPropertySchema {
  type: string;
  default: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** A U-Net settings schema: numeric properties named as UnetSettings, each with its default. */
export interface UnetSettingsSchemaJson {
  properties: Readonly<Record<keyof UnetSettings, NumberPropertySchema>>;
}

/** The defaults and the checking parser of one U-Net settings schema (the click network has its own). */
export function unetSettingsFromSchema(
  schema: UnetSettingsSchemaJson,
  networkTitle: string,
): { defaults: Readonly<UnetSettings>; parse: (raw: unknown) => UnetSettings } {
  const properties = schema.properties;
  const keys = Object.keys(properties) as (keyof UnetSettings)[];
  // The defaults come from the `default` keywords of the schema so they are written in one place.
  const defaults: Readonly<UnetSettings> = Object.freeze(
    Object.fromEntries(keys.map((key) => [key, properties[key].default])) as unknown as UnetSettings,
  );
  /**
   * Merges a (possibly partial or absent) custom_model_config over the defaults and checks each value against
   * the schema's rules. The runtime also validates with ajv; this keeps direct callers (CLI, tests, workers) safe.
   */
  const parse = (raw: unknown): UnetSettings => {
    if (raw === undefined || raw === null) return { ...defaults };
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw configError(`expected an object, found ${JSON.stringify(raw)}`, { field: FIELD_PREFIX });
    }
    const given = raw as Record<string, unknown>;
    for (const key of Object.keys(given)) {
      if (!(keys as string[]).includes(key)) {
        throw configError(`unknown key; the ${networkTitle} knows ${keys.join(', ')}`, {
          field: `${FIELD_PREFIX}.${key}`,
        });
      }
    }
    const settings: UnetSettings = { ...defaults };
    for (const key of keys) {
      if (given[key] !== undefined)
        settings[key] = checkNumber(given[key], properties[key], `${FIELD_PREFIX}.${key}`);
    }
    return settings;
  };
  return { defaults, parse };
}

export const UNET_SETTINGS_SCHEMA: Readonly<Record<string, unknown>> = schemaJson;

const UNET_SETTINGS = unetSettingsFromSchema(schemaJson, 'U-Net');
export const UNET_DEFAULTS: Readonly<UnetSettings> = UNET_SETTINGS.defaults;
export const parseUnetSettings: (raw: unknown) => UnetSettings = UNET_SETTINGS.parse;

function checkNumber(value: unknown, rule: NumberPropertySchema, field: string): number {
  const problems: string[] = [];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.push(`a finite ${rule.type}`);
  } else {
    if (rule.type === 'integer' && !Number.isInteger(value)) problems.push('an integer');
    if (rule.minimum !== undefined && value < rule.minimum) problems.push(`>= ${rule.minimum}`);
    if (rule.maximum !== undefined && value > rule.maximum) problems.push(`<= ${rule.maximum}`);
    if (rule.exclusiveMinimum !== undefined && value <= rule.exclusiveMinimum)
      problems.push(`> ${rule.exclusiveMinimum}`);
    if (rule.exclusiveMaximum !== undefined && value >= rule.exclusiveMaximum)
      problems.push(`< ${rule.exclusiveMaximum}`);
  }
  if (problems.length > 0) {
    throw configError(`expected ${problems.join(' and ')}, found ${JSON.stringify(value)}`, { field });
  }
  return value as number;
}

/** Filters of each level 0..depth (the last one is the bottleneck): base * 2^level, capped at max_filters. */
export function levelFilters(settings: UnetSettings): number[] {
  const filters: number[] = [];
  for (let level = 0; level <= settings.depth; level++) {
    filters.push(Math.min(settings.base_filters * 2 ** level, settings.max_filters));
  }
  return filters;
}
