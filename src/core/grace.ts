// An interface that stops wanting a HEP keeps it for a grace period, whether it disappeared (a NIC
// being renamed, a bond being rebuilt, a driver reload must not open the firewall for the seconds it
// takes) or is still there but no longer selected (a config change: a typo in interfaces.include
// must not delete HEPs the moment the agent restarts with it). The clock starts when the agent first
// sees the interface unwanted, so a restart of the agent restarts it too.

export interface GraceInput {
  /** Interfaces named by this node's managed HEPs in the cluster. */
  readonly hepInterfaces: Iterable<string>;
  /**
   * Interfaces that want a HEP now: present on the node AND selected by the config (the desired
   * HEPs' interfaces). Not every present interface: a deselected one must get the grace too.
   */
  readonly wanted: ReadonlySet<string>;
  /** From the previous call: when each unwanted interface was first seen unwanted (epoch ms). */
  readonly goneSince: ReadonlyMap<string, number>;
  readonly now: number;
  readonly graceMs: number;
}

export interface GraceResult {
  /** Unwanted (gone or deselected) interfaces whose HEPs must still be kept. */
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
    if (input.wanted.has(name) || goneSince.has(name)) continue;
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
