/**
 * podman as the image test drives it. Runs with runc and a containers.conf of our own (CONTAINERS_CONF): crun
 * refuses cgroups in hybrid mode on some VMs, and podman's default open-file and process limits can exceed what
 * root may set there (measured: /work/shared/notes/container-images-here.md); the limits we set are the
 * host's own hard limits, capped. Every container gets a --name and is removed with `podman rm -f`: a timed-out
 * `podman run` killed by its parent leaves its container running.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Whether a program is on PATH. */
export function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/** The hard limit of a resource from /proc/self/limits (e.g. "Max open files"); undefined if unlimited or unread. */
function hardLimit(name: string): number | undefined {
  const line = fs
    .readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  return hard === undefined || !/^\d+$/.test(hard) ? undefined : Number(hard);
}

export class Podman {
  private readonly env: NodeJS.ProcessEnv;
  private readonly containers = new Set<string>();

  /** Writes containers.conf into `workDir`. */
  constructor(workDir: string) {
    const nofile = Math.min(hardLimit('Max open files') ?? 65536, 65536);
    const nproc = Math.min(hardLimit('Max processes') ?? 32768, 32768);
    const conf = path.join(workDir, 'containers.conf');
    fs.writeFileSync(
      conf,
      [
        '[containers]',
        `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
        '[engine]',
        'runtime = "runc"',
        '',
      ].join('\n'),
    );
    this.env = { ...process.env, CONTAINERS_CONF: conf };
  }

  /** podman ARGS to the end; output collected (and, with `echo`, also shown as it comes). */
  run(args: readonly string[], options: { echo?: boolean; timeoutMs?: number } = {}): Promise<Run> {
    const started = Date.now();
    const child = spawn('podman', args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (options.echo === true) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (options.echo === true) process.stderr.write(d);
    });
    return new Promise((resolve, reject) => {
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
      child.on('error', reject);
      child.on('close', (status) => {
        if (timer !== undefined) clearTimeout(timer);
        resolve({ status, stdout, stderr, ms: Date.now() - started });
      });
    });
  }

  /** podman ARGS, failing with the command and its stderr unless it exits 0. */
  async ok(args: readonly string[], options: { echo?: boolean; timeoutMs?: number } = {}): Promise<Run> {
    const r = await this.run(args, options);
    if (r.status !== 0) {
      throw new Error(`podman ${args.join(' ')} exited ${r.status}:\n${r.stderr.slice(-3000)}`);
    }
    return r;
  }

  /** Starts `podman run --name NAME ...` attached, for a run to be watched and stopped; remembered for cleanup. */
  start(name: string, args: readonly string[]): ReturnType<typeof spawn> {
    this.containers.add(name);
    return spawn('podman', ['run', '--name', name, ...args], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** `podman run --name NAME ...` to its end (the container is kept, as the agent keeps it, until `remove`). */
  container(name: string, args: readonly string[], timeoutMs: number): Promise<Run> {
    this.containers.add(name);
    return this.run(['run', '--name', name, ...args], { timeoutMs });
  }

  async remove(name: string): Promise<void> {
    await this.run(['rm', '-f', '--time', '0', name]);
    this.containers.delete(name);
  }

  /** Removes every container this object started. */
  async removeAll(): Promise<void> {
    for (const name of [...this.containers]) await this.remove(name);
  }

  /** The IDs of every image in local storage, intermediate ones included. */
  async imageIds(): Promise<Set<string>> {
    const r = await this.ok(['images', '--all', '--quiet', '--no-trunc']);
    return new Set(r.stdout.split('\n').filter((l) => l.trim() !== ''));
  }

  /**
   * Removes `image` and then the untagged images that appeared since `before` (a build's intermediate images),
   * leaving tagged images alone: the base images, and anything someone else tagged meanwhile.
   */
  async removeImagesSince(before: ReadonlySet<string>, image: string): Promise<void> {
    await this.run(['rmi', '--force', image]);
    // A parent goes only once its children have: passes until one removes nothing.
    for (let removed = true; removed; ) {
      removed = false;
      const r = await this.ok(['images', '--all', '--no-trunc', '--format', '{{.ID}} {{.Repository}}']);
      for (const line of r.stdout.split('\n')) {
        const [id, repository] = line.trim().split(' ');
        if (id === undefined || id === '' || before.has(id) || repository !== '<none>') continue;
        if ((await this.run(['rmi', id])).status === 0) removed = true;
      }
    }
  }

  /** Whether an image of this name is in local storage. */
  async hasImage(ref: string): Promise<boolean> {
    return (await this.run(['image', 'exists', ref])).status === 0;
  }
}
