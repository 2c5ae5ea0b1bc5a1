// Shell-style globs over interface names and label keys. picomatch is the matcher behind
// micromatch/fast-glob: well tested, brace and class support, compiled once to a RegExp.
import picomatch from 'picomatch';

export type NameMatcher = (name: string) => boolean;

/**
 * One matcher for a list of globs: true when any glob matches. These are names, not paths:
 * `bash` lets `*` cross the `/` of a label key prefix, `dot` lets it match a leading `.`.
 */
export function anyGlob(globs: readonly string[]): NameMatcher {
  if (globs.length === 0) return () => false;
  return picomatch([...globs], { dot: true, bash: true });
}
