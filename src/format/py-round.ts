/**
 * Python's `round(x)` for floats: round half to even ("banker's rounding"), as the SDK applies to every
 * coordinate it reads (spec B.4). `Math.round` rounds half up and would move 2.5 to 3 where the SDK has 2.
 */
export function pyRound(value: number): number {
  const floor = Math.floor(value);
  // Exact for doubles: value and its floor share the exponent range, so the difference has no rounding error.
  const diff = value - floor;
  let result: number;
  if (diff > 0.5) result = floor + 1;
  else if (diff < 0.5) result = floor;
  else result = floor % 2 === 0 ? floor : floor + 1;
  // Normalise -0 so results compare and serialise as plain 0.
  return result === 0 ? 0 : result;
}
