/**
 * Every "spec X.n" citation in the code names a section of docs/supervisely-protocol.md that exists: "spec B"
 * a part (`## B.`), "spec B.6" a section (`### B.6`), "spec H.5.12" item 12 of section H.5's numbered list.
 * Lists and ranges count ("spec E.1, E.3-E.5", continued on the next comment line after a comma), and a name
 * in backquotes right after a section ("spec F.3 `renamer`") must appear in that section.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const SPEC_FILE = 'docs/supervisely-protocol.md';
const CODE_DIRS = ['src', 'plugin', 'bench', 'test'];
/** This file cites wrong sections on purpose, in the test of the checker. */
const THIS_FILE = path.relative(ROOT, __filename);

interface Citation {
  where: string;
  refs: string[];
  /** [section, name] for each "X.n `name`". */
  names: [string, string][];
}

interface SpecIndex {
  parts: Set<string>;
  /** Section id ("B.6") to its text, up to the next heading of level 2 or 3. */
  sections: Map<string, string>;
}

function indexSpec(markdown: string): SpecIndex {
  const parts = new Set([...markdown.matchAll(/^## ([A-Z])\. /gm)].map((m) => m[1] as string));
  const sections = new Map<string, string>();
  for (const m of markdown.matchAll(/^### ([A-Z]\.\d+) [^\n]*\n([\s\S]*?)(?=^##)/gm)) {
    sections.set(m[1] as string, m[2] as string);
  }
  return { parts, sections };
}

/** The citations in one file's text; `file` only labels them. */
function citationsIn(text: string, file: string): Citation[] {
  const out: Citation[] = [];
  // After "spec ": up to ")", ";", the next "spec ", a line end not after a comma, or a sentence or clause end.
  for (const m of text.matchAll(
    /\bspec ([A-Z](?:\.\d+)*\b(?:(?!spec )(?:,[ \t]*\r?\n[ \t]*(?:\*|\/\/|#)?|[^)\n;]))*)/g,
  )) {
    const span = (m[1] as string).split(/[.:](?:\s|$)/)[0] as string;
    const line = text.slice(0, m.index).split('\n').length;
    out.push({
      where: `${file}:${line}: spec ${span.replace(/\s+/g, ' ').replace(/[\s,]+$/, '')}`,
      refs: [...span.replace(/`[^`]*`/g, '').matchAll(/(?<![\w.])([A-Z](?:\.\d+)*)(?![\w.]*\w)/g)].map(
        (r) => r[1] as string,
      ),
      names: [...span.matchAll(/\b([A-H]\.\d+) `([^`]+)`/g)].map((r) => [r[1] as string, r[2] as string]),
    });
  }
  return out;
}

/** What is wrong with one citation, if anything. */
function problemsOf(citation: Citation, spec: SpecIndex): string[] {
  const problems: string[] = [];
  for (const ref of citation.refs) {
    const [part, section, item] = ref.split('.');
    const body = spec.sections.get(`${part}.${section}`);
    if (section === undefined ? !spec.parts.has(ref) : body === undefined) {
      problems.push(`${citation.where}: ${SPEC_FILE} has no section ${ref}`);
    } else if (item !== undefined && !new RegExp(`^${item}\\. `, 'm').test(body as string)) {
      problems.push(`${citation.where}: section ${part}.${section} has no item ${item}`);
    }
  }
  for (const [section, name] of citation.names) {
    const body = spec.sections.get(section);
    if (body !== undefined && !body.includes(name)) {
      problems.push(`${citation.where}: section ${section} does not mention ${name}`);
    }
  }
  return problems;
}

function codeFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : codeFiles(rel);
    return /\.(ts|js|json|py|sh)$/.test(entry.name) ? [rel] : [];
  });
}

describe(`spec citations resolve in ${SPEC_FILE}`, () => {
  const spec = indexSpec(fs.readFileSync(path.join(ROOT, SPEC_FILE), 'utf8'));
  const files = CODE_DIRS.flatMap(codeFiles).filter((file) => file !== THIS_FILE);
  const citations = files.flatMap((file) =>
    citationsIn(fs.readFileSync(path.join(ROOT, file), 'utf8'), file),
  );

  it('finds the spec parts A to H and their sections, and the citations in the code', () => {
    expect([...spec.parts].sort()).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H']);
    expect(spec.sections.size).toBeGreaterThan(40);
    expect(citations.length).toBeGreaterThan(200);
  });

  it('every cited part, section and list item exists, and names cited with a section appear in it', () => {
    expect(citations.flatMap((c) => problemsOf(c, spec))).toEqual([]);
  });

  it('reads lists, ranges, continued lines and names, and reports what does not exist', () => {
    const text = [
      '/** A (spec E.1 steps 7-10, E.3-E.5, E.7). TASK_CRASHED (spec D.5 TASK_CRASHED, H.3).',
      ' * Continued (spec E.5,',
      ' * G.2): and parts (spec A.3, F, G.3); items (spec H.5.12). Names (spec F.3 `renamer`). */',
      '// Wrong: spec B.9, spec H.5.13, spec I, spec F.3 `no_such_name`',
    ].join('\n');
    const found = citationsIn(text, 'x.ts');
    expect(found.map((c) => c.refs)).toEqual([
      ['E.1', 'E.3', 'E.5', 'E.7'],
      ['D.5', 'H.3'],
      ['E.5', 'G.2'],
      ['A.3', 'F', 'G.3'],
      ['H.5.12'],
      ['F.3'],
      ['B.9'],
      ['H.5.13'],
      ['I'],
      ['F.3'],
    ]);
    expect(found.flatMap((c) => problemsOf(c, spec))).toEqual([
      `x.ts:4: spec B.9: ${SPEC_FILE} has no section B.9`,
      'x.ts:4: spec H.5.13: section H.5 has no item 13',
      `x.ts:4: spec I: ${SPEC_FILE} has no section I`,
      'x.ts:4: spec F.3 `no_such_name`: section F.3 does not mention no_such_name',
    ]);
  });
});
