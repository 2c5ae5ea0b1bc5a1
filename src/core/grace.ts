// An interface that disappears keeps its HEP for a grace period: a NIC being renamed, a bond being
// rebuilt or a driver reload must not open the firewall for the seconds it takes. The clock starts
// when the agent first sees the interface missing, so a restart of the agent restarts it too.

export interface GraceInput {
  /** Interfaces named by this node's managed HEPs in the cluster. */
  readonly hepInterfaces: Iterable<string>;
  /** Interfaces present on the node now (selected or not). */
  readonly present: ReadonlySet<string>;
  /** From the previous call: when each missing interface was first seen missing (epoch ms). */
  readonly goneSince: ReadonlyMap<string, number>;
  readonly now: number;
  readonly graceMs: number;
}

export interface GraceResult {
  /** Missing interfaces whose HEPs must still be kept. */
  readonly held: ReadonlySet<string>;
  /** To pass to the next call. */
  readonly goneSince: Map<string, number>;
  /** When the next held interface expires (epoch ms), so the caller can reconcile then. */
  readonly nextExpiryAt: number | undefined;
}

export function applyGracePeriod(input: GraceInput): GraceResult {
  const held = new Set<string>();
  const goneSince = new Map<string, number>();
  let nextExpiryAt: number | undefined;
  for (const name of input.hepInterfaces) {
    if (input.present.has(name) || goneSince.has(name)) continue;
    const since = input.goneSince.get(name) ?? input.now;
    goneSince.set(name, since);
    const expiresAt = since + input.graceMs;
    if (input.now < expiresAt) {
      held.add(name);
      nextExpiryAt = nextExpiryAt === undefined ? expiresAt : Math.min(nextExpiryAt, expiresAt);
    }
  }
  return { held, goneSince, nextExpiryAt };
}
