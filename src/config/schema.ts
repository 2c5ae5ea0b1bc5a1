// The configuration file's schema: the single place where every key, its type and its default live.
// zod gives us strict objects (unknown keys are errors), defaults, and issue paths that name the field.
import { z } from 'zod';
import { isCidr } from '../core/ip.ts';
import { labelKeyError, labelValueError } from '../core/k8s-names.ts';
import { isReservedLabelKey } from '../core/ownership.ts';
import { DEFAULT_METRICS_PORT, DEFAULT_PROFILES } from './defaults.ts';

const glob = z.string().min(1, 'must not be empty');

/** A label map whose keys and values Kubernetes accepts and whose keys are not the agent's own. */
const labelMap = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    const problem = labelKeyError(key) ?? labelValueError(value) ??
      (isReservedLabelKey(key) ? `label key "${key}" is reserved for the agent's own ownership labels` : undefined);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
  }
});

const ruleName = z.string().min(1).max(63);

const deriveRule = z.strictObject({
  /** Names the rule in errors and logs. */
  name: ruleName,
  /** Applies when the Node has this label (and, if given, this value). */
  whenNodeLabel: z.strictObject({ key: z.string().min(1), value: z.string().optional() }),
  set: labelMap,
});

const interfaceRule = z.strictObject({
  name: ruleName,
  /** Every criterion given must hold; within a list, any entry may match. */
  match: z
    .strictObject({
      names: z.array(glob).min(1).optional(),
      cidrs: z
        .array(z.string().refine(isCidr, { message: 'must be a CIDR such as 192.0.2.0/24 or 2001:db8::/32' }))
        .min(1)
        .optional(),
      defaultRoute: z.boolean().optional(),
    })
    .refine((m) => m.names !== undefined || m.cidrs !== undefined || m.defaultRoute !== undefined, {
      message: 'needs at least one of names, cidrs, defaultRoute',
    }),
  labels: labelMap,
});

const renameMap = z.record(z.string(), z.string()).superRefine((renames, ctx) => {
  for (const [from, to] of Object.entries(renames)) {
    const problem = labelKeyError(to) ??
      (isReservedLabelKey(to) ? `label key "${to}" is reserved for the agent's own ownership labels` : undefined);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: [from] });
  }
});

const seconds = (min: number) => z.number().int().min(min);

export const configSchema = z.strictObject({
  /** The Node this agent serves; normally from the NODE_NAME environment variable. */
  nodeName: z.string().min(1).optional(),

  interfaces: z
    .strictObject({
      include: z.array(glob).default(['*']),
      exclude: z.array(glob).default([]),
      /** Also exclude Calico's list of non-host interfaces (docker*, cali*, veth*, lo, ...). */
      useDefaultExcludes: z.boolean().default(true),
    })
    .prefault({}),

  hostEndpoint: z
    .strictObject({
      profiles: z.array(z.string().min(1)).default([...DEFAULT_PROFILES]),
    })
    .prefault({}),

  labels: z
    .strictObject({
      fromNode: z
        .strictObject({
          include: z.array(glob).default(['*']),
          exclude: z.array(glob).default([]),
          rename: renameMap.default({}),
        })
        .prefault({}),
      derive: z.array(deriveRule).default([]),
      static: labelMap.default({}),
    })
    .prefault({}),

  interfaceRules: z.array(interfaceRule).default([]),

  /** Which Calico API to write; `auto` uses projectcalico.org/v3 when the cluster serves it. */
  apiGroup: z.enum(['auto', 'projectcalico.org/v3', 'crd.projectcalico.org/v1']).default('auto'),
  /** `repair` fixes drift; `audit` only reports it. */
  mode: z.enum(['repair', 'audit']).default('repair'),
  /** Log the writes the agent would make instead of making them. */
  dryRun: z.boolean().default(false),
  /** Take over unmanaged HEPs that stand where the agent's own would (same name, or same node and interface). */
  adopt: z.boolean().default(false),
  /**
   * Lockout guard: never create a HEP without the projectcalico-default-allow profile (nor remove that
   * profile from one) until some GlobalNetworkPolicy selects it; reported as drift kind `unguarded`.
   * The agent then also lists and watches globalnetworkpolicies.
   */
  requirePolicy: z.boolean().default(false),

  intervals: z
    .strictObject({
      /** Re-read interfaces even without a netlink event: a safety net. */
      rescanSeconds: seconds(1).default(60),
      /** Replay the cached view (no API request) and reconcile: repairs drift a watch event did not announce. */
      resyncSeconds: seconds(10).default(600),
      /** How long an interface must stay gone before its HEP is deleted. */
      removalGraceSeconds: seconds(0).default(300),
      /** Coalesce bursts of changes into one reconcile. */
      debounceMilliseconds: z.number().int().min(0).max(10_000).default(100),
    })
    .prefault({}),

  server: z
    .strictObject({
      address: z.string().min(1).default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(DEFAULT_METRICS_PORT),
    })
    .prefault({}),

  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema>;
export type InterfaceRule = Config['interfaceRules'][number];
export type DeriveRule = Config['labels']['derive'][number];
