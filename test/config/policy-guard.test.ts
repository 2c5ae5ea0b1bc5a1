// The policyGuard config block (src/config/schema.ts) and the deprecated requirePolicy folded into it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../src/config/load.ts';
import { policyGuardConfig } from '../../src/config/schema.ts';

function error(input: unknown): string {
  try {
    validateConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('policyGuard', () => {
  it('is on by default: enforce-safe, nothing trusted', () => {
    assert.deepEqual(policyGuardConfig(validateConfig({})), { mode: 'enforce-safe', trustedPolicies: [] });
  });
  it('takes a mode and globs', () => {
    assert.deepEqual(policyGuardConfig(validateConfig({ policyGuard: { mode: 'off', trustedPolicies: ['allow-*'] } })), {
      mode: 'off',
      trustedPolicies: ['allow-*'],
    });
  });
  it('rejects an unknown mode, an empty glob and unknown keys, naming the field', () => {
    assert.match(error({ policyGuard: { mode: 'strict' } }), /policyGuard\.mode: /);
    assert.match(error({ policyGuard: { trustedPolicies: [''] } }), /policyGuard\.trustedPolicies\[0\]: must not be empty/);
    assert.match(error({ policyGuard: { trusted: ['x'] } }), /policyGuard\.trusted: unknown key/);
  });
  it('requirePolicy: true (deprecated) is mode require-policy; false changes nothing', () => {
    assert.equal(policyGuardConfig(validateConfig({ requirePolicy: true })).mode, 'require-policy');
    assert.equal(policyGuardConfig(validateConfig({ requirePolicy: true, policyGuard: { mode: 'require-policy' } })).mode, 'require-policy');
    assert.equal(policyGuardConfig(validateConfig({ requirePolicy: false })).mode, 'enforce-safe');
    assert.equal(policyGuardConfig(validateConfig({ requirePolicy: false, policyGuard: { mode: 'off' } })).mode, 'off');
  });
  it('requirePolicy: true with another mode is an error naming requirePolicy', () => {
    assert.match(
      error({ requirePolicy: true, policyGuard: { mode: 'enforce-safe' } }),
      /requirePolicy: replaced by policyGuard\.mode \(here enforce-safe\); remove requirePolicy/,
    );
  });
});
