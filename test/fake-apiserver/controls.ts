// Fault-injection state consulted per request: latency, queued failures (5xx, 429 + Retry-After), 409 bursts.
// Outages and watch faults need the listener and the watch set, so server.ts implements those.
import { errors, injected, type ApiError } from './status.ts';

export interface FaultMatch {
  verb?: string | undefined;
  resource?: string | undefined;
}
interface Fault {
  remaining: number;
  code: number;
  retryAfterSeconds?: number | undefined;
  match?: FaultMatch | undefined;
}

export class FaultState {
  latencyMs = 0;
  private faults: Fault[] = [];
  private conflicts = 0;

  failNext(n: number, code: number, retryAfterSeconds?: number, match?: FaultMatch): void {
    this.faults.push({ remaining: n, code, retryAfterSeconds, match });
  }
  conflictBurst(n: number): void {
    this.conflicts += n;
  }

  /** The injected error for this request, if any (consumes one). */
  takeFault(verb: string, resource: string): ApiError | undefined {
    const f = this.faults.find((x) => x.remaining > 0 && (!x.match?.verb || x.match.verb === verb) && (!x.match?.resource || x.match.resource === resource));
    if (!f) return undefined;
    f.remaining--;
    this.faults = this.faults.filter((x) => x.remaining > 0);
    return injected(f.code, f.retryAfterSeconds);
  }

  /** A stale-write 409 for update/patch while a burst lasts, worded like the real optimistic-concurrency failure. */
  takeConflict(verb: string, group: string, resource: string, name: string | undefined): ApiError | undefined {
    if (this.conflicts <= 0 || (verb !== 'update' && verb !== 'patch') || !name) return undefined;
    this.conflicts--;
    return errors.conflict(group, resource, name);
  }

  reset(): void {
    this.latencyMs = 0;
    this.faults = [];
    this.conflicts = 0;
  }
  pending(): { faults: number; conflicts: number } {
    return { faults: this.faults.reduce((a, f) => a + f.remaining, 0), conflicts: this.conflicts };
  }
}
