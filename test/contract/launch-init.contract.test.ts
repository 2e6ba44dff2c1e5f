/**
 * The launchers' choice of init process (spec H.1, H.3): under the agent, `sh -c "python -u …"` leaves the
 * launcher as the container's PID 1, and node as PID 1 ignores SIGTERM; so the launcher execs node under tini
 * when it is PID 1 and tini is installed, and plain node otherwise.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../../src');

function command(pid: number, tini: boolean): string[] {
  const script = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(SRC)})`,
    'from sly_launch import command',
    `print(json.dumps(command("node", "/workdir/dist/src/train.js", ["x"], ${pid}, ${tini ? 'True' : 'False'})))`,
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script], { encoding: 'utf8' })) as string[];
}

describe('launcher init process', () => {
  it('runs node under tini as PID 1 when tini is installed', () => {
    expect(command(1, true)).toEqual([
      '/usr/bin/tini',
      '-g',
      '--',
      'node',
      '/workdir/dist/src/train.js',
      'x',
    ]);
  });

  it('runs node directly when not PID 1, or without tini', () => {
    expect(command(37, true)).toEqual(['node', '/workdir/dist/src/train.js', 'x']);
    expect(command(1, false)).toEqual(['node', '/workdir/dist/src/train.js', 'x']);
  });
});
