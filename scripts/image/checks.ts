/**
 * What the image test checks of each run, read as the contract tests read it: stdout through the agent's own
 * reading and our stricter line contract (test/helpers/agent.ts), result annotations through the tests' own
 * Supervisely reader (test/helpers/sly-annotation.ts), the folders with plain fs. Each check throws an Error
 * naming the run and what is wrong.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { eventsOf, readStrictOutput, type AgentLogLine } from '../../test/helpers/agent';
import { coverage, readSlyAnnotation } from '../../test/helpers/sly-annotation';
import type { Run } from './podman';

export class CheckFailed extends Error {
  constructor(run: string, what: string, output?: string) {
    super(
      `${run}: ${what}${output === undefined ? '' : `\n--- its output (end) ---\n${output.slice(-4000)}`}`,
    );
    this.name = 'CheckFailed';
  }
}

export function check(ok: boolean, run: string, what: string, output?: string): asserts ok {
  if (!ok) throw new CheckFailed(run, what, output);
}

/** The run's stdout read as the agent reads it, every line held to our contract. */
export function agentLines(name: string, run: Run): AgentLogLine[] {
  try {
    return readStrictOutput(run.stdout);
  } catch (e) {
    throw new CheckFailed(name, (e as Error).message, run.stdout + run.stderr);
  }
}

function field(line: AgentLogLine | undefined, name: string): unknown {
  return line?.fields[name];
}

export interface TrainResult {
  /** results/<subdir> of the last checkpoint. */
  lastCheckpoint: string;
  backend: unknown;
  engine: unknown;
}

/** A training task that ran to its end (spec D.6, E.6): exit 0, no crash line, checkpoints on disk. */
export function checkTraining(name: string, run: Run, taskDir: string): TrainResult {
  const output = run.stdout + run.stderr;
  check(run.status === 0, name, `exited ${run.status}, expected 0`, output);
  const lines = agentLines(name, run);
  check(eventsOf(lines, 'TASK_CRASHED').length === 0, name, 'printed a crash line', output);
  const checkpoints = eventsOf(lines, 'CHECKPOINT');
  check(checkpoints.length > 0, name, 'announced no checkpoint', output);
  for (const cp of checkpoints) {
    const dir = path.join(taskDir, 'results', String(field(cp, 'subdir')));
    for (const file of ['config.json', 'model.json', 'weights.bin', 'model.onnx']) {
      check(fs.existsSync(path.join(dir, file)), name, `checkpoint ${dir} has no ${file}`);
    }
  }
  check(eventsOf(lines, 'METRICS').length > 0, name, 'printed no metrics', output);
  return {
    lastCheckpoint: String(field(checkpoints[checkpoints.length - 1], 'subdir')),
    backend: field(
      lines.find((l) => l.message === 'tfjs backend selected.'),
      'backend',
    ),
    engine: field(
      lines.find((l) => l.message === 'Training engine ready.'),
      'engine',
    ),
  };
}

/**
 * An inference task (spec A.3, D.6, F.4): exit 0, one "model applied" followed only by the SDK's last line, and
 * results/<project>/ holding every input item with predicted bitmaps over the input objects.
 */
export function checkInference(name: string, run: Run, taskDir: string, projectName: string): number {
  const output = run.stdout + run.stderr;
  check(run.status === 0, name, `exited ${run.status}, expected 0`, output);
  const lines = agentLines(name, run);
  const applied = lines.findIndex((l) => l.eventType === 'EventType.MODEL_APPLIED');
  check(eventsOf(lines, 'MODEL_APPLIED').length === 1, name, 'did not say "model applied" once', output);
  const after = lines.slice(applied + 1).map((l) => l.message);
  check(after.join() === 'Main finished: OK.', name, `after "model applied": ${JSON.stringify(after)}`);
  const results = path.join(taskDir, 'results');
  const entries = fs.readdirSync(results);
  check(
    entries.join() === projectName,
    name,
    `results/ holds ${JSON.stringify(entries)}, not "${projectName}"`,
  );
  const input = path.join(taskDir, 'data', projectName);
  let items = 0;
  for (const dataset of fs.readdirSync(input).filter((d) => fs.statSync(path.join(input, d)).isDirectory())) {
    const images = fs.readdirSync(path.join(input, dataset, 'img')).sort();
    const outAnn = path.join(results, projectName, dataset, 'ann');
    const outImages = fs.readdirSync(path.join(results, projectName, dataset, 'img')).sort();
    check(
      outImages.join() === images.join(),
      name,
      `results/${projectName}/${dataset}/img differs from the input`,
    );
    for (const image of images) {
      const where = `results/${projectName}/${dataset}/ann/${image}.json`;
      const inJson = JSON.parse(
        fs.readFileSync(path.join(input, dataset, 'ann', `${image}.json`), 'utf8'),
      ) as {
        objects: unknown[];
      };
      const outJson = JSON.parse(fs.readFileSync(path.join(outAnn, `${image}.json`), 'utf8')) as {
        size: unknown;
        objects: { classTitle: string }[];
      };
      const predicted = outJson.objects.slice(inJson.objects.length);
      check(predicted.length > 0, name, `${where}: no predicted object`);
      check(
        predicted.every((o) => o.classTitle.endsWith('_unet')),
        name,
        `${where}: a predicted class without the _unet suffix`,
      );
      // Every pixel gets exactly one predicted class (background included), decoded as the SDK decodes it.
      const ann = readSlyAnnotation({ ...outJson, objects: predicted }, where);
      check(
        Array.from(coverage(ann)).every((n) => n === 1),
        name,
        `${where}: the predicted masks do not cover the image once`,
      );
      items += 1;
    }
  }
  check(items > 0, name, 'the input project has no items');
  return items;
}

/**
 * A training task stopped by `podman stop` (README, "Stopping"): exit 143 within the grace period, the
 * checkpoint of the interrupted run announced, the crash line last.
 */
export function checkStopped(name: string, run: Run, taskDir: string, stopMs: number, graceS: number): void {
  const output = run.stdout + run.stderr;
  check(run.status === 143, name, `exited ${run.status}, expected 143 (SIGTERM)`, output);
  check(stopMs < graceS * 1000, name, `took ${stopMs} ms to stop, over the ${graceS} s grace period`, output);
  const lines = agentLines(name, run);
  const checkpoints = eventsOf(lines, 'CHECKPOINT');
  check(
    checkpoints.length === 1,
    name,
    `announced ${checkpoints.length} checkpoints, expected the stop's one`,
    output,
  );
  const optional = field(checkpoints[0], 'optional') as { interrupted?: unknown } | undefined;
  check(
    optional?.interrupted === 'SIGTERM',
    name,
    'its checkpoint is not marked interrupted: "SIGTERM"',
    output,
  );
  const dir = path.join(taskDir, 'results', String(field(checkpoints[0], 'subdir')));
  for (const file of ['config.json', 'model.json', 'weights.bin']) {
    check(fs.existsSync(path.join(dir, file)), name, `checkpoint ${dir} has no ${file}`);
  }
  const crash = eventsOf(lines, 'TASK_CRASHED');
  check(
    crash.length === 1 && lines[lines.length - 1] === crash[0],
    name,
    'the crash line is not the last line',
    output,
  );
  check(
    /stopped by SIGTERM/.test(String(field(crash[0], 'exc_str'))),
    name,
    'the crash line does not say SIGTERM',
  );
}

/** A `POST /inference_image` answer: one item whose annotation covers the image once (spec of the serving API). */
export function checkServedAnnotation(json: unknown, width: number, height: number): number {
  const item = json as { annotation?: unknown; name?: unknown };
  const ann = readSlyAnnotation(item.annotation, 'inference_image: annotation');
  check(
    ann.size.width === width && ann.size.height === height,
    'serve',
    `annotation size ${ann.size.width}x${ann.size.height}, expected ${width}x${height}`,
  );
  check(
    Array.from(coverage(ann)).every((n) => n === 1),
    'serve',
    'inference_image: the labels do not cover the image once',
  );
  return ann.objects.length;
}
