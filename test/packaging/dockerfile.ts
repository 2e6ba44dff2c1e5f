/**
 * A small Dockerfile reader for the packaging tests (Docker cannot run on our machines): instructions with
 * their flags, stages, build arguments, COPY sources and destinations, ENV values, and the commands of RUN
 * instructions. It covers the syntax our Dockerfile uses, not every corner of BuildKit's.
 */

export interface Instruction {
  /** Upper case, e.g. "COPY". */
  keyword: string;
  /** `--name=value` options before the arguments, e.g. { from: "build" }. */
  flags: Record<string, string>;
  /** The rest of the instruction, continuation lines joined (flags removed). */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  index: number;
  /** The `AS` name, if any. */
  name?: string;
  /** The FROM argument as written, e.g. "${CUDA_IMAGE}" or "base-${VARIANT}". */
  from: string;
  /** The instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults (undefined when none). */
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}

export interface CopySpec {
  /** The stage name or image of `--from`; undefined for the build context. */
  from?: string;
  sources: string[];
  destination: string;
  line: number;
}

/** Joins continuation lines and drops comments and blank lines (as Docker does inside an instruction). */
export function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let current: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && current === undefined)) return;
    if (trimmed === '') return;
    const continued = /\\$/.test(raw);
    const part = continued ? raw.replace(/\\$/, '') : raw;
    if (current === undefined) current = { text: part, line: i + 1 };
    else current.text += part;
    if (!continued) {
      out.push({ text: current.text.trim(), line: current.line });
      current = undefined;
    }
  });
  if (current !== undefined) out.push({ text: current.text.trim(), line: current.line });
  return out;
}

/** Splits leading `--name=value` options off an argument string. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const match = /^--([A-Za-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (match === null) break;
    flags[match[1] as string] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string | undefined> = {};
  const stages: Stage[] = [];
  for (const { text: lineText, line } of logicalLines(text)) {
    const match = /^(\S+)\s*([\s\S]*)$/.exec(lineText);
    if (match === null) continue;
    const keyword = (match[1] as string).toUpperCase();
    const withFlags = ['FROM', 'COPY', 'ADD', 'RUN'].includes(keyword);
    const { flags, rest } = withFlags
      ? splitFlags(match[2] as string)
      : { flags: {}, rest: match[2] as string };
    const instruction: Instruction = { keyword, flags, args: rest.trim(), line };
    if (keyword === 'FROM') {
      const [from, as, name] = shellWords(instruction.args);
      if (from === undefined) throw new Error(`line ${line}: FROM without an image`);
      const stage: Stage = { index: stages.length, from, instructions: [] };
      if (as !== undefined && as.toUpperCase() === 'AS' && name !== undefined) stage.name = name;
      stages.push(stage);
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`line ${line}: only ARG may come before the first FROM`);
      Object.assign(globalArgs, parseArg(instruction.args));
    } else {
      (stages[stages.length - 1] as Stage).instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

function parseArg(args: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const word of shellWords(args)) {
    const eq = word.indexOf('=');
    if (eq < 0) out[word] = undefined;
    else out[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return out;
}

/** `$NAME`, `${NAME}` and `${NAME:-default}` replaced from `values` (unset names become ""). */
export function substitute(text: string, values: Readonly<Record<string, string | undefined>>): string {
  return text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_whole, braced: string | undefined, fallback: string | undefined, bare: string | undefined) => {
      const value = values[(braced ?? bare) as string];
      return value !== undefined && value !== '' ? value : (fallback ?? '');
    },
  );
}

/** The image or stage a stage starts from, with the build arguments applied over the global defaults. */
export function resolveFrom(
  dockerfile: Dockerfile,
  stage: Stage,
  buildArgs: Readonly<Record<string, string>> = {},
): string {
  return substitute(stage.from, { ...dockerfile.globalArgs, ...buildArgs });
}

/** The stage a name refers to, if it names an earlier stage (by `AS` name or index). */
export function stageNamed(dockerfile: Dockerfile, name: string, before: number): Stage | undefined {
  return dockerfile.stages.find((s) => s.index < before && (s.name === name || String(s.index) === name));
}

/** Shell-like words: single and double quotes grouped and removed, backslash escapes honoured. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) {
        word += text[i + 1] as string;
        i += 1;
      } else word += c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word ??= '';
      if (c === "'" || c === '"') quote = c;
      else if (c === '\\' && i + 1 < text.length) {
        word += text[i + 1] as string;
        i += 1;
      } else word += c;
    }
  }
  if (quote !== undefined) throw new Error(`unbalanced ${quote} in: ${text}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** The words of an exec-form (JSON array) or shell-form argument. */
function argumentWords(args: string): string[] {
  if (args.startsWith('[')) {
    const parsed: unknown = JSON.parse(args);
    if (!Array.isArray(parsed) || !parsed.every((w) => typeof w === 'string')) {
      throw new Error(`not a JSON array of strings: ${args}`);
    }
    return parsed as string[];
  }
  return shellWords(args);
}

export function copySpecs(stage: Stage): CopySpec[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const words = argumentWords(i.args);
      if (words.length < 2) throw new Error(`line ${i.line}: ${i.keyword} needs a source and a destination`);
      return {
        from: i.flags.from,
        sources: words.slice(0, -1),
        destination: words[words.length - 1] as string,
        line: i.line,
      };
    });
}

/** ENV values set in a stage, in order (later ones win). Values keep `$` references unexpanded. */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV')) {
    const words = shellWords(i.args);
    if (words.length >= 1 && !(words[0] as string).includes('=')) {
      // Legacy form: ENV NAME value with spaces.
      env[words[0] as string] = words.slice(1).join(' ');
    } else {
      for (const word of words) {
        const eq = word.indexOf('=');
        env[word.slice(0, eq)] = word.slice(eq + 1);
      }
    }
  }
  return env;
}

/** The working directory in effect at each instruction of a stage (absolute WORKDIRs only). */
export function workdirAt(stage: Stage, instruction: Instruction): string {
  let dir = '/';
  for (const i of stage.instructions) {
    if (i === instruction) break;
    if (i.keyword === 'WORKDIR')
      dir = i.args.startsWith('/') ? i.args : `${dir.replace(/\/$/, '')}/${i.args}`;
  }
  return dir;
}

export interface ShellCommand {
  /** The command text, whitespace collapsed. */
  text: string;
  /** True inside an if ... fi (it may not run). */
  conditional: boolean;
  /** The RUN instruction it belongs to. */
  instruction: Instruction;
}

/**
 * The simple commands of a stage's shell-form RUN instructions, split at `&&`, `||` and `;` outside quotes
 * and `$(...)`, with commands inside `if ... fi` marked conditional.
 */
export function runCommands(stage: Stage): ShellCommand[] {
  const out: ShellCommand[] = [];
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'RUN')) {
    if (instruction.args.startsWith('[')) {
      out.push({ text: argumentWords(instruction.args).join(' '), conditional: false, instruction });
      continue;
    }
    let depth = 0;
    for (const segment of splitShellList(instruction.args)) {
      const text = segment.replace(/\s+/g, ' ').trim();
      if (text === '') continue;
      const first = text.split(' ')[0];
      if (first === 'if') depth += 1;
      out.push({ text, conditional: depth > 0, instruction });
      if (first === 'fi') depth -= 1;
    }
  }
  return out;
}

function splitShellList(script: string): string[] {
  const parts: string[] = [];
  let current = '';
  // Open quotes and parentheses, innermost last: ' and " quote, $( and ( nest commands.
  const stack: ("'" | '"' | '(')[] = [];
  for (let i = 0; i < script.length; i += 1) {
    const c = script[i] as string;
    const two = script.slice(i, i + 2);
    const top = stack[stack.length - 1];
    if (top === "'") {
      if (c === "'") stack.pop();
    } else if (c === '\\') {
      current += two;
      i += 1;
      continue;
    } else if (top === '"') {
      if (c === '"') stack.pop();
      else if (two === '$(') {
        stack.push('(');
        current += two;
        i += 1;
        continue;
      }
    } else if (c === "'" || c === '"' || c === '(') {
      stack.push(c);
    } else if (c === ')' && top === '(') {
      stack.pop();
    } else if (top === undefined && (two === '&&' || two === '||')) {
      parts.push(current);
      current = '';
      i += 1;
      continue;
    } else if (top === undefined && c === ';') {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (stack.length > 0) throw new Error(`unbalanced ${stack.join('')} in: ${script}`);
  parts.push(current);
  return parts;
}
