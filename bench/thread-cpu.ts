/** CPU time by thread of this process, from Linux's /proc (empty elsewhere). */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU ms of each thread of this process, by thread id, with its name (Linux /proc; empty elsewhere). */
export function threadCpu(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * tick });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
