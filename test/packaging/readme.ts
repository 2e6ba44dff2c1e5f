/** The commands README.md documents for the image's build stage, between its docker-build marker comments. */

export const BEGIN_MARKER = '<!-- docker-build:begin -->';
export const END_MARKER = '<!-- docker-build:end -->';

/**
 * The command lines in the fenced code blocks between the markers (continuations joined, whitespace collapsed,
 * blank and `#` comment lines dropped). Throws when the README has no such section, so a test built on it fails
 * rather than skips.
 */
export function documentedBuildCommands(readme: string): string[] {
  const begin = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER, begin + 1);
  if (begin < 0 || end < 0) {
    throw new Error(
      `README.md has no ${BEGIN_MARKER} ... ${END_MARKER} section (it lists the build stage commands)`,
    );
  }
  const body = readme.slice(begin + BEGIN_MARKER.length, end);
  const fenced = [...body.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1] as string).join('\n');
  return fenced
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
