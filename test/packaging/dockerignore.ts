/**
 * .dockerignore matching as Docker does it (moby/patternmatcher): patterns relative to the context root, Go
 * filepath.Match wildcards plus `**`, `!` re-includes, the last matching pattern wins, and a path is also
 * excluded when one of its parent folders is.
 */

export interface IgnorePattern {
  source: string;
  negate: boolean;
  regex: RegExp;
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    const cleaned = cleanPath(line);
    if (cleaned === '') continue;
    patterns.push({ source: raw.trim(), negate, regex: globToRegex(cleaned) });
  }
  return patterns;
}

/** A relative, slash-separated path without `.` parts, leading `/` or trailing `/`. */
export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

export function globToRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i] as string;
    if (pattern.startsWith('**', i)) {
      const atStart = i === 0 || pattern[i - 1] === '/';
      const next = pattern[i + 2];
      if (atStart && next === '/') {
        out += '(?:.*/)?'; // "**/" : any number of folders, none included
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`unterminated [ in ${pattern}`);
      const body = pattern.slice(i + 1, end).replace(/^[!^]/, '^');
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      out += escapeRegex(pattern[i + 1] as string);
      i += 1;
    } else out += escapeRegex(c);
  }
  return new RegExp(`^${out}$`);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** True when `path` (relative to the context root) is left out of the build context. */
export function isExcluded(path: string, patterns: readonly IgnorePattern[]): boolean {
  const cleaned = cleanPath(path);
  const parts = cleaned.split('/');
  let excluded = false;
  for (const pattern of patterns) {
    // A pattern matches the path itself or one of its parent folders.
    const matches = parts.some((_, i) => pattern.regex.test(parts.slice(0, i + 1).join('/')));
    if (matches) excluded = !pattern.negate;
  }
  return excluded;
}
