/**
 * The tracker that ships in models/tracker, through `bench:track-quality` (the built script, as a user runs it):
 * on held-out generated clips (texture families and speeds its training never used) it beats colour-nn, the
 * better baseline, by a clear margin. Measured when it was bundled, on these 6 clips of 16 frames (seed 31337,
 * 12 objects): 0.842 against 0.669. A checkpoint, a matching step or a post-processing step that loses most of
 * that fails here. The bench's last line is read as JSON, as its users read it.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtFile } from '../../contract/built';

let out: string;
beforeAll(async () => {
  out = await fsp.mkdtemp(path.join(os.tmpdir(), 'bundled-tracker-'));
});
afterAll(async () => {
  await fsp.rm(out, { recursive: true, force: true });
});

describe('the bundled tracker (models/tracker) on held-out clips', () => {
  it('beats colour-nn by more than 0.1 J&F', () => {
    const run = spawnSync(process.execPath, [builtFile('bench/track-quality.ts')], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        CLIPS: '6',
        FRAMES: '16',
        SEED: '31337',
        ADAPT_STEPS: '0',
        THREADS: '2',
        OUT: out,
      },
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const last = JSON.parse(run.stdout.trim().split('\n').pop() as string) as {
      checkpoint: string;
      objects: number;
      scores: Record<string, { jf: number }>;
      margin_over_better_baseline: Record<string, number>;
    };
    expect(path.relative(process.cwd(), last.checkpoint)).toBe(path.join('models', 'tracker'));
    expect(last.objects).toBe(12);
    expect(last.scores.tracker.jf).toBeGreaterThan(last.scores['colour-nn'].jf + 0.1);
    expect(last.margin_over_better_baseline.tracker).toBeGreaterThan(0.1);
  });
});
