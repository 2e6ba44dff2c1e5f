/**
 * The worked example of docs/supervisely-video-format.md V.8 (made by the SDK's own classes), taken from the
 * document itself: its meta.json and its `ds0/ann/clip.mp4.json`, so the tests follow the spec's text.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const SPEC = path.resolve(__dirname, '../../docs/supervisely-video-format.md');

export interface WorkedExample {
  meta: Record<string, unknown>;
  annotation: Record<string, unknown>;
}

export function workedExample(): WorkedExample {
  const text = fs.readFileSync(SPEC, 'utf8');
  const start = text.indexOf('\n## V.8 ');
  const end = text.indexOf('\n## V.9 ', start);
  if (start < 0 || end < 0) throw new Error(`${SPEC}: no section V.8 followed by V.9`);
  const blocks = [...text.slice(start, end).matchAll(/^```json\n([\s\S]*?)^```/gm)].map((m) =>
    JSON.parse(m[1] as string),
  );
  if (blocks.length !== 2) throw new Error(`${SPEC}: V.8 has ${blocks.length} JSON blocks, expected 2`);
  return { meta: blocks[0], annotation: blocks[1] };
}
