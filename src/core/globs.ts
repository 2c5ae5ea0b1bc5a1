// Shell-style globs over interface names and label keys. picomatch is the matcher behind
// micromatch/fast-glob: well tested, brace and class support, compiled once to a RegExp.
import picomatch from 'picomatch';
import { errorMessage } from './error-message.ts';

export type NameMatcher = (name: string) => boolean;

const OPTIONS = { dot: true, bash: true } as const;

/**
 * One matcher for a list of globs: true when any glob matches. These are names, not paths:
 * `bash` lets `*` cross the `/` of a label key prefix, `dot` lets it match a leading `.`.
 */
export function anyGlob(globs: readonly string[]): NameMatcher {
  if (globs.length === 0) return () => false;
  return picomatch([...globs], OPTIONS);
}

/**
 * Why a glob is malformed, or `undefined` when it is fine. picomatch quietly treats a malformed
 * glob as a literal (`eth[0` matches only the name `eth[0`), which turns a typo into "select
 * nothing"; so the config refuses it. picomatch's `strictBrackets` catches unclosed `[`, `{`, `(`
 * and a stray `]` or `)`; a stray `}` and a trailing lone `\` are checked here.
 */
export function globError(glob: string): string | undefined {
  if (glob.length === 0) return 'must not be empty';
  try {
    picomatch.makeRe(glob, { ...OPTIONS, strictBrackets: true });
  } catch (err) {
    return `malformed glob "${glob}": ${errorMessage(err)}`;
  }
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') {
      if (i === glob.length - 1) return `malformed glob "${glob}": ends with a lone "\\" (escape nothing)`;
      i++;
    } else if (c === '[') {
      // Skip a bracket class: braces inside it are literal. strictBrackets has checked it closes.
      const close = glob.indexOf(']', i + 2);
      if (close > i) i = close;
    } else if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return `malformed glob "${glob}": "}" without an opening "{" (use "\\\\}" for a literal)`;
      depth--;
    }
  }
  return undefined;
}
