// The configuration file's schema: the single place where every key, its type and its default live.
// zod gives us strict objects (unknown keys are errors), defaults, and issue paths that name the field.
// It is `zod/mini`, the functional API (`z.optional(x)`, `x.check(z.minLength(1))`): the same engine as
// zod's classic API at +1.5 MiB of RSS in the bundle instead of +14.3 MiB (docs/benchmarks.md, "Memory").
import { isIP } from 'node:net';
import * as z from 'zod/mini';
import { anyGlob, globError } from '../core/globs.ts';
import { isCidr } from '../core/ip.ts';
import { DNS1123_SUBDOMAIN_MAX, isDns1123Subdomain, labelKeyError, labelValueError } from '../core/k8s-names.ts';
import { isReservedLabelKey } from '../core/ownership.ts';
import { DEFAULT_MAX_DELETE_FRACTION } from '../core/reconcile.ts';
import { POLICY_GUARD_MODES, type PolicyGuardConfig, type PolicyGuardMode } from '../core/policy/guard.ts';
import { DEFAULT_METRICS_PORT, DEFAULT_PROFILES } from './defaults.ts';

/**
 * Interface names of every shape Linux allows (1-15 bytes, any of letters, digits, `_`, `-`, `.`,
 * at the start and the end): an exclude list matching all of them (`*`, `?*`, `{*,x}`, `[a-z]*`
 * with `[!a-z]*`, ...) leaves no interface selected, as an exclude of "*" does.
 */
const PROBE_INTERFACE_NAMES = [
  'a',
  'Z',
  '0',
  '_',
  '-',
  '.x',
  'x.',
  'eth0',
  'ens3f0np0',
  'bond0.100',
  'br-ex',
  'Eth_Uplink.10A',
  'A.b_C.d_E.f_G.h',
  '123456789012345',
];

function excludesEveryInterface(globs: readonly string[]): boolean {
  if (globs.some((g) => /^\*+$/.test(g))) return true;
  if (globs.some((g) => globError(g) !== undefined)) return false; // reported on the glob itself
  const matches = anyGlob(globs);
  return PROBE_INTERFACE_NAMES.every((n) => matches(n));
}

/** A glob picomatch compiles as a glob: a malformed one (`eth[0`) would silently match only itself. */
const glob = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.superRefine((g, ctx) => {
    const problem = g === '' ? undefined : globError(g); // empty: reported once, by minLength(1)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }),
);

/** A Kubernetes object name (Node, Profile): a lowercase DNS-1123 subdomain of at most 253 characters. */
const objectName = z.string().check(
  z.minLength(1),
  z.maxLength(DNS1123_SUBDOMAIN_MAX),
  z.refine(isDns1123Subdomain, {
    message: `must be a lowercase DNS-1123 subdomain ([a-z0-9] with inner "-" and ".", at most ${DNS1123_SUBDOMAIN_MAX} characters)`,
  }),
);

/** No two entries with the same `name`: logs and errors name rules, so a name must say which one. */
function uniqueNames<T extends { name: string }>(list: T[], ctx: z.core.$RefinementCtx<T[]>): void {
  const first = new Map<string, number>();
  list.forEach((item, i) => {
    const at = first.get(item.name);
    if (at !== undefined) ctx.addIssue({ code: 'custom', message: `duplicate rule name "${item.name}" (also at index ${at})`, path: [i, 'name'] });
    else first.set(item.name, i);
  });
}

/** A label map whose keys and values Kubernetes accepts and whose keys are not the agent's own. */
const labelMap = z.record(z.string(), z.string()).check(
  z.superRefine((labels, ctx) => {
    for (const [key, value] of Object.entries(labels)) {
      const problem =
        labelKeyError(key) ??
        labelValueError(value) ??
        (isReservedLabelKey(key) ? `label key "${key}" is reserved for the agent's own ownership labels` : undefined);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
    }
  }),
);

const ruleName = z.string().check(z.minLength(1), z.maxLength(63));

const deriveRule = z.strictObject({
  /** Names the rule in errors and logs. */
  name: ruleName,
  /** Applies when the Node has this label (and, if given, this value). */
  whenNodeLabel: z.strictObject({ key: z.string().check(z.minLength(1)), value: z.optional(z.string()) }),
  set: labelMap,
});

const interfaceRule = z.strictObject({
  name: ruleName,
  /** Every criterion given must hold; within a list, any entry may match. */
  match: z
    .strictObject({
      names: z.optional(z.array(glob).check(z.minLength(1))),
      cidrs: z.optional(z.array(z.string().check(z.refine(isCidr, { message: 'must be a CIDR such as 192.0.2.0/24 or 2001:db8::/32' }))).check(z.minLength(1))),
      defaultRoute: z.optional(z.boolean()),
    })
    .check(
      z.refine((m) => m.names !== undefined || m.cidrs !== undefined || m.defaultRoute !== undefined, {
        message: 'needs at least one of names, cidrs, defaultRoute',
      }),
    ),
  labels: labelMap,
});

const renameMap = z.record(z.string(), z.string()).check(
  z.superRefine((renames, ctx) => {
    for (const [from, to] of Object.entries(renames)) {
      const problem = labelKeyError(to) ?? (isReservedLabelKey(to) ? `label key "${to}" is reserved for the agent's own ownership labels` : undefined);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: [from] });
    }
  }),
);

/**
 * The one rule for interval bounds: at most a year. The agent's clock (src/core/clock.ts) re-arms
 * delays longer than a Node.js timer holds (2^31-1 ms, about 24.8 days), so a 30-day interval waits
 * 30 days instead of firing every millisecond; beyond a year a value is far more likely a unit
 * mistake (milliseconds written as seconds) than an intent, so it is rejected, naming the field.
 * Every `*Seconds` key goes through `seconds()`.
 */
export const INTERVAL_MAX_SECONDS = 365 * 86_400;

const seconds = (min: number, fallback: number) =>
  z._default(z.int().check(z.minimum(min), z.maximum(INTERVAL_MAX_SECONDS, `must be at most ${INTERVAL_MAX_SECONDS} (a year)`)), fallback);

/** A default for an absent value (`x.default(v)` in zod's classic API). */
const orDefault = z._default;
/** A nested section that may be left out: absent, it is parsed as `{}` so its own defaults apply. */
const section = <T extends z.core.SomeType>(schema: T) => z.prefault(schema, {} as never);

export const configSchema = z
  .strictObject({
    /** The Node this agent serves; normally from the NODE_NAME environment variable. */
    nodeName: z.optional(objectName),

    interfaces: section(
      z.strictObject({
        // An empty list selects nothing, which would delete every HEP of the node: a config error,
        // not a quiet way to unmanage a node (uninstall and `prune` do that).
        include: orDefault(
          z
            .array(glob)
            .check(
              z.minLength(1, 'must list at least one glob: an empty include selects no interface (to stop managing HEPs, uninstall the agent and run prune)'),
            ),
          ['*'],
        ),
        exclude: orDefault(
          z.array(glob).check(
            z.superRefine((globs, ctx) => {
              if (!excludesEveryInterface(globs)) return;
              const shown = globs.map((g) => JSON.stringify(g)).join(', ');
              ctx.addIssue({ code: 'custom', message: `excludes every interface (${shown}): that would delete every HEP of the node` });
            }),
          ),
          [],
        ),
        /** Also exclude Calico's list of non-host interfaces (docker*, cali*, veth*, lo, ...). */
        useDefaultExcludes: orDefault(z.boolean(), true),
      }),
    ),

    hostEndpoint: section(
      z.strictObject({
        // Calico validates each with its `name` rule (nameRegex, a DNS-1123 subdomain) and the list is a
        // set (+listType=set): api/pkg/apis/projectcalico/v3/hostendpoint.go, libcalico-go/lib/validator/v3/validator.go.
        profiles: orDefault(
          z.array(objectName).check(
            z.superRefine((names, ctx) => {
              names.forEach((n, i) => {
                if (names.indexOf(n) !== i) ctx.addIssue({ code: 'custom', message: `duplicate profile "${n}"`, path: [i] });
              });
            }),
          ),
          [...DEFAULT_PROFILES],
        ),
      }),
    ),

    labels: section(
      z.strictObject({
        fromNode: section(
          z.strictObject({
            include: orDefault(z.array(glob), ['*']),
            exclude: orDefault(z.array(glob), []),
            rename: orDefault(renameMap, {}),
          }),
        ),
        derive: orDefault(z.array(deriveRule).check(z.superRefine(uniqueNames)), []),
        static: orDefault(labelMap, {}),
      }),
    ),

    interfaceRules: orDefault(z.array(interfaceRule).check(z.superRefine(uniqueNames)), []),

    /** Which Calico API to write; `auto` uses projectcalico.org/v3 when the cluster serves it. */
    apiGroup: orDefault(z.enum(['auto', 'projectcalico.org/v3', 'crd.projectcalico.org/v1']), 'auto'),
    /** `repair` fixes drift; `audit` only reports it. */
    mode: orDefault(z.enum(['repair', 'audit']), 'repair'),
    /** Log the writes the agent would make instead of making them. */
    dryRun: orDefault(z.boolean(), false),
    /** Take over unmanaged HEPs that stand where the agent's own would (same name, or same node and interface). */
    adopt: orDefault(z.boolean(), false),
    // --- policy guard (stream policy; src/core/policy/guard.ts) ---
    /**
     * The policy guard, on by default: before a create, label change or profile change of a HEP, the agent
     * evaluates the cluster's tiers and GlobalNetworkPolicies the way Felix does and holds a write that
     * would drop traffic allowed today (drift kind `policy-held`, a Node Event, a log line), retrying when
     * policies change. The agent lists and watches globalnetworkpolicies, tiers and felixconfigurations.
     */
    policyGuard: section(
      z.strictObject({
        /**
         * `enforce-safe`: hold unless every drop is owed to an opted-in policy; `require-policy`: every
         * policy is opted in, hold only what no policy decides (no profile allows, no policy applies);
         * `off`: no guard. Unset: `enforce-safe`, or `require-policy` with the deprecated requirePolicy: true.
         */
        mode: z.optional(z.enum(POLICY_GUARD_MODES as [PolicyGuardMode, ...PolicyGuardMode[]])),
        /** Globs over GlobalNetworkPolicy names the operator opts in to (as does the annotation calico-hep-agent.io/policy-guard: trusted). */
        trustedPolicies: orDefault(z.array(glob), []),
      }),
    ),
    /** Deprecated: `true` is `policyGuard.mode: require-policy`; `false` changes nothing (the guard is on). */
    requirePolicy: z.optional(z.boolean()),
    // --- end policy guard ---

    intervals: section(
      z.strictObject({
        /** Re-read interfaces even without a netlink event: a safety net. */
        rescanSeconds: seconds(1, 60),
        /** Replay the cached view (no API request) and reconcile: repairs drift a watch event did not announce. */
        resyncSeconds: seconds(10, 600),
        /** How long an interface must stay gone before its HEP is deleted. */
        removalGraceSeconds: seconds(0, 300),
        /** Coalesce bursts of changes into one reconcile. */
        debounceMilliseconds: orDefault(z.int().check(z.minimum(0), z.maximum(10_000)), 100),
      }),
    ),

    safety: section(
      z.strictObject({
        /**
         * Circuit breaker: a pass that would delete the HEPs of more than this share of the node's
         * managed interfaces (or of all of them) deletes none, and reports drift kind `breaker`.
         * 1 turns the breaker off.
         */
        maxDeleteFraction: orDefault(z.number().check(z.minimum(0), z.maximum(1)), DEFAULT_MAX_DELETE_FRACTION),
      }),
    ),

    server: section(
      z.strictObject({
        address: orDefault(
          z.string().check(z.refine((a) => isIP(a) !== 0, { message: 'must be an IP address such as 0.0.0.0, 127.0.0.1 or :: (not a host name)' })),
          '0.0.0.0',
        ),
        port: orDefault(z.int().check(z.minimum(0), z.maximum(65535)), DEFAULT_METRICS_PORT),
      }),
    ),

    logLevel: orDefault(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
  })
  .check(
    z.superRefine((c, ctx) => {
      // policy guard: the deprecated switch and its replacement must not disagree.
      if (c.requirePolicy === true && c.policyGuard.mode !== undefined && c.policyGuard.mode !== 'require-policy') {
        ctx.addIssue({ code: 'custom', path: ['requirePolicy'], message: `replaced by policyGuard.mode (here ${c.policyGuard.mode}); remove requirePolicy` });
      }
    }),
  );

export type Config = z.infer<typeof configSchema>;

/** The policy guard's settings with the deprecated `requirePolicy` folded in. */
export function policyGuardConfig(config: Pick<Config, 'policyGuard' | 'requirePolicy'>): PolicyGuardConfig {
  const mode = config.policyGuard.mode ?? (config.requirePolicy === true ? 'require-policy' : 'enforce-safe');
  return { mode, trustedPolicies: config.policyGuard.trustedPolicies };
}
export type InterfaceRule = Config['interfaceRules'][number];
export type DeriveRule = Config['labels']['derive'][number];
