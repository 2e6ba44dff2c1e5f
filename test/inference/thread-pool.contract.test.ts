/** libuv's pool size for inference (src/inference/thread-pool.ts): one thread per core unless the user set it. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sizeLibuvThreadPool } from '../../src/inference/thread-pool';
import { builtFile } from '../contract/built';

describe('sizeLibuvThreadPool', () => {
  it('sets one thread per core when UV_THREADPOOL_SIZE is unset or empty', () => {
    for (const env of [{}, { UV_THREADPOOL_SIZE: '' }] as NodeJS.ProcessEnv[]) {
      expect(sizeLibuvThreadPool(env, 2)).toBe(2);
      expect(env.UV_THREADPOOL_SIZE).toBe('2');
    }
    const one: NodeJS.ProcessEnv = {};
    expect(sizeLibuvThreadPool(one, 1)).toBe(1);
    expect(one.UV_THREADPOOL_SIZE).toBe('1');
  });

  it.each([
    ['3', 3],
    ['0', 1],
    ['5000', 1024],
    ['lots', 4],
  ])("keeps the user's %s, and says what libuv makes of it (%d)", (given, size) => {
    const env: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: given };
    expect(sizeLibuvThreadPool(env, 2)).toBe(size);
    expect(env.UV_THREADPOOL_SIZE).toBe(given);
  });

  // libuv starts its pool at the first asynchronous call: the threads that appear then are the pool (Linux /proc).
  const linux = existsSync('/proc/self/task');
  (linux ? it : it.skip)('sizes the pool of a real process when called before its first async call', () => {
    const script = `
      const { sizeLibuvThreadPool } = require(${JSON.stringify(builtFile('src/inference/thread-pool.ts'))});
      const fs = require('node:fs');
      const size = sizeLibuvThreadPool(process.env, 3);
      const before = fs.readdirSync('/proc/self/task').length;
      fs.stat('.', () => {
        const workers = fs.readdirSync('/proc/self/task').length - before;
        console.log(JSON.stringify({ size, workers }));
      });`;
    const run = (env: NodeJS.ProcessEnv) =>
      JSON.parse(
        spawnSync(process.execPath, ['-e', script], {
          env: { PATH: process.env.PATH, ...env },
          encoding: 'utf8',
        }).stdout,
      ) as { size: number; workers: number };
    expect(run({})).toEqual({ size: 3, workers: 3 });
    expect(run({ UV_THREADPOOL_SIZE: '5' })).toEqual({ size: 5, workers: 5 });
  });

  (linux ? it : it.skip)(
    'is sized by the inference entry point before anything it loads starts the pool (sharp does on load)',
    () => {
      const task = mkdtempSync(path.join(os.tmpdir(), 'pool-'));
      try {
        // A config that cannot be parsed: the entry reads it (its first asynchronous call) and crashes early.
        writeFileSync(path.join(task, 'task_config.json'), '{');
        const probe = path.join(task, 'probe.js');
        writeFileSync(
          probe,
          `const fs = require('node:fs');
           const before = fs.readdirSync('/proc/self/task').length;
           process.on('exit', () => {
             process.stderr.write('POOL ' + (fs.readdirSync('/proc/self/task').length - before) + '\\n');
           });`,
        );
        const run = spawnSync(process.execPath, ['-r', probe, builtFile('src/inference.ts')], {
          env: { PATH: process.env.PATH, SLY_TASK_DATA: task },
          encoding: 'utf8',
        });
        expect(run.status).toBe(2);
        expect(run.stderr).toContain(`POOL ${os.availableParallelism()}\n`);
      } finally {
        rmSync(task, { recursive: true, force: true });
      }
    },
  );
});
