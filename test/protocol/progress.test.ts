import { eventsOf, parseAgentOutput } from '../helpers/agent';
import { createLogger } from '../../src/protocol/logger';
import { Progress } from '../../src/protocol/progress';
import { memorySink } from '../../src/protocol/sink';

/** The SDK's Progress.need_report cadence, written out independently (spec D.5), for comparison. */
function sdkReportedCounts(total: number, steps: number[]): number[] {
  const reportEvery = Math.max(1, Math.ceil((total / 100) * 1));
  const out = [0];
  let reported = 1;
  let current = 0;
  for (const step of steps) {
    current += step;
    const unknown = total <= 0;
    if (
      unknown ||
      current >= total ||
      current % reportEvery === 0 ||
      reported - 1 < Math.floor(current / reportEvery)
    ) {
      out.push(current);
      reported += 1;
    }
  }
  return out;
}

function run(total: number, steps: number[]) {
  const mem = memorySink();
  const logger = createLogger({ sink: mem.sink });
  const progress = Progress.start({ logger, subtask: 'Model training: ', total });
  for (const s of steps) progress.iterDone(s);
  const lines = eventsOf(parseAgentOutput(mem.lines.join('\n')), 'PROGRESS');
  return { progress, lines, currents: lines.map((l) => l.fields.current as number) };
}

describe('Progress cadence (spec D.5)', () => {
  it('reports once at the start with current 0', () => {
    const { lines } = run(40, []);
    expect(lines.map((l) => l.fields)).toEqual([
      expect.objectContaining({ subtask: 'Model training: ', current: 0, total: 40 }),
    ]);
  });

  it('reports every step for small totals, ending at the total', () => {
    const { currents } = run(5, [1, 1, 1, 1, 1]);
    expect(currents).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('prints at most about 100 lines for a long bar, and always the last step', () => {
    const total = 12345;
    const { currents, progress } = run(
      total,
      Array.from({ length: total }, () => 1),
    );
    expect(currents.length).toBeLessThanOrEqual(102);
    expect(currents.length).toBeGreaterThanOrEqual(90);
    expect(currents[currents.length - 1]).toBe(total);
    expect(progress.reported).toBe(currents.length);
  });

  it('matches the SDK rule for uneven steps', () => {
    const steps = [3, 7, 1, 50, 2, 2, 400, 1, 1, 533];
    expect(run(1000, steps).currents).toEqual(sdkReportedCounts(1000, steps));
  });

  it('with an unknown total reports every step with total = current', () => {
    const { lines } = run(0, [1, 1]);
    expect(lines.map((l) => [l.fields.current, l.fields.total])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
  });

  it('setCurrent jumps to an absolute count', () => {
    const mem = memorySink();
    const progress = Progress.start({ logger: createLogger({ sink: mem.sink }), subtask: 's', total: 10 });
    progress.setCurrent(10);
    expect(progress.current).toBe(10);
    expect(JSON.parse(mem.lines[mem.lines.length - 1])).toMatchObject({ current: 10, total: 10 });
  });
});

describe('elapsed time and ETA on progress lines', () => {
  function clocked(total: number) {
    const mem = memorySink();
    const logger = createLogger({ sink: mem.sink });
    let t = 1000;
    const bar = Progress.start({ logger, subtask: 'Model training: ', total, now: () => t });
    const lines = () => eventsOf(parseAgentOutput(mem.lines.join('\n')), 'PROGRESS').map((l) => l.fields);
    return { bar, lines, advance: (ms: number) => (t += ms) };
  }

  it('estimates the time left from the rate so far; none on the first line', () => {
    const { bar, lines, advance } = clocked(4);
    advance(2000);
    bar.iterDone();
    advance(2000);
    bar.iterDone();
    const [first, one, two] = lines();
    expect(first).not.toHaveProperty('eta_s');
    expect(one).toMatchObject({ current: 1, elapsed_s: 2, eta_s: 6 });
    expect(two).toMatchObject({ current: 2, elapsed_s: 4, eta_s: 4 });
  });

  it('a resumed bar measures from after its jump, not from 0', () => {
    const { bar, lines, advance } = clocked(100);
    bar.setCurrent(90);
    advance(1000);
    bar.iterDone();
    const last = lines().at(-1);
    expect(last).toMatchObject({ current: 91, eta_s: 9 });
  });

  it('no ETA with an unknown total', () => {
    const { bar, lines, advance } = clocked(0);
    advance(1000);
    bar.iterDone();
    expect(lines().at(-1)).not.toHaveProperty('eta_s');
  });
});
