/**
 * A CLI progress line for work counted in units (frames): the rate so far and, when the total is known, the
 * time left at that rate, as the progress events' `eta_s` says it to the agent.
 */
export function unitProgress(opts: {
  unit: string;
  done: number;
  total: number | null;
  seconds: number;
}): string {
  const { unit, done, total } = opts;
  const rate = done / Math.max(1e-3, opts.seconds);
  const count = total === null ? `${done}` : `${done}/${total}`;
  const left = total === null || done === 0 ? '' : `, ${Math.round((total - done) / rate)} s left`;
  return `${unit} ${count}: ${rate.toFixed(1)} ${unit === 'frame' ? 'fps' : `${unit}s/s`}${left}`;
}
