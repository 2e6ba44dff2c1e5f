/**
 * Walks the string-literal require() calls of compiled CommonJS code from its entry points: relative requires
 * must resolve to a file inside `root`, bare ones must be Node built-ins or one of `packages`.
 */
import { builtinModules } from 'module';
import * as fs from 'fs';
import * as path from 'path';

export interface RequireWalk {
  /** Every file reached (real paths), entry points included. */
  files: string[];
  /** One line per bad require, naming the file and the specifier. */
  problems: string[];
}

export function walkRequires(options: {
  root: string;
  entries: readonly string[];
  packages: ReadonlySet<string>;
}): RequireWalk {
  const root = fs.realpathSync(options.root);
  const problems: string[] = [];
  const seen = new Set<string>();
  const queue = options.entries.map((e) => fs.realpathSync(e));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.endsWith('.js')) continue;
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\brequire\((["'])([^"']+)\1\)/g)) {
      const spec = match[2] as string;
      const where = `${path.relative(root, file)}: require("${spec}")`;
      if (spec.startsWith('.')) {
        const target = resolveFile(path.resolve(path.dirname(file), spec));
        if (target === undefined) problems.push(`${where} resolves to no file`);
        else if (path.relative(root, target).startsWith('..')) problems.push(`${where} leaves ${root}`);
        else queue.push(target);
      } else if (!isBuiltin(spec) && !options.packages.has(packageName(spec))) {
        problems.push(`${where} is not an allowed package`);
      }
    }
  }
  return { files: [...seen], problems };
}

function resolveFile(base: string): string | undefined {
  for (const candidate of [base, `${base}.js`, `${base}.json`, path.join(base, 'index.js')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return fs.realpathSync(candidate);
  }
  return undefined;
}

function isBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0] as string);
}

/** "@scope/name/sub" -> "@scope/name", "name/sub" -> "name". */
export function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}
