/** Reading a bench's settings from the environment. */

/** The integer in `process.env[name]` (at least `min`), or `fallback` when unset or empty. */
export function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  const v = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return v;
}
