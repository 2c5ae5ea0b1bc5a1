// Test helper: the one way a test skips for a missing prerequisite (root / `ip netns`, kubectl, helm,
// the image tooling, an old Node).
//
//   const skip = prereq(await canUseNetns());
//   test('...', { skip }, async () => { ... });
//
// Outside CI it returns the reason, so `node --test` reports the tests as skipped and prints why.
// Under CI (CI=true or CI=1) nothing may skip: it registers a test named after the missing prerequisite
// that FAILS with the reason (so the run is red and says why), and still skips the dependent tests so
// they do not add failures (or hang) that only repeat the missing prerequisite.
import { test } from 'node:test';

/** True when CI is set to anything but '', '0' or 'false' (GitHub Actions and most CI systems set CI=true). */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env['CI'] ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

export class PrerequisiteMissing extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`prerequisite missing, and under CI=true tests must not skip: ${reason}`);
    this.name = 'PrerequisiteMissing';
    this.reason = reason;
  }
}

export interface PrereqOptions {
  env?: NodeJS.ProcessEnv;
  /** How the failing test is registered (node:test's `test` by default; the unit test injects its own). */
  register?: (name: string, fn: () => void) => void;
}

/**
 * `reason` is why the tests cannot run here (null/undefined/false when they can). Returns the value for
 * node:test's `skip` option: false when the prerequisite is there, otherwise the reason. Under CI a
 * missing prerequisite also registers a failing test carrying the reason.
 */
export function prereq(reason: string | null | undefined | false, opts: PrereqOptions = {}): string | false {
  if (reason === null || reason === undefined || reason === false) return false;
  if (inCI(opts.env)) {
    const register = opts.register ?? ((name: string, fn: () => void) => void test(name, fn));
    register(`prerequisite: ${reason}`, () => {
      throw new PrerequisiteMissing(reason);
    });
  }
  return reason;
}
