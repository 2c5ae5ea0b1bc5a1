// The benchmark's own view of the HostEndpoints: one raw watch (admin token) on the fake server, so
// "the HEP is correct in the API" is observed the moment the server emits the event, not by polling.
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import { performance } from 'node:perf_hooks';
import type { HostEndpoint } from '../../src/core/model.ts';

type Listener = { pred: () => boolean; resolve: (t: number) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

export class HepWatch {
  readonly heps = new Map<string, HostEndpoint>();
  events = 0;
  #req: ClientRequest | undefined;
  #listeners = new Set<Listener>();
  /** Called for every event with its arrival time (performance.now()). */
  onEvent: ((type: string, hep: HostEndpoint, t: number) => void) | undefined;

  static async open(p: { url: string; caPem: string; adminToken: string; labelSelector?: string }): Promise<HepWatch> {
    const w = new HepWatch();
    await w.#start(p);
    return w;
  }

  #start(p: { url: string; caPem: string; adminToken: string; labelSelector?: string }): Promise<void> {
    return new Promise((resolve, reject) => {
      const q = new URLSearchParams({ watch: 'true', resourceVersion: '0' });
      if (p.labelSelector) q.set('labelSelector', p.labelSelector);
      const req = request(
        new URL(`/apis/projectcalico.org/v3/hostendpoints?${q.toString()}`, p.url),
        { ca: p.caPem, agent: false, headers: { Authorization: `Bearer ${p.adminToken}` } },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`watch: HTTP ${res.statusCode}`));
          resolve();
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const t = performance.now();
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim() === '') continue;
              const ev = JSON.parse(line) as { type: string; object: HostEndpoint };
              if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') continue;
              this.events++;
              if (ev.type === 'DELETED') this.heps.delete(ev.object.metadata.name);
              else this.heps.set(ev.object.metadata.name, ev.object);
              this.onEvent?.(ev.type, ev.object, t);
            }
            this.#check(t);
          });
        },
      );
      req.on('error', (e) => {
        for (const l of this.#listeners) l.reject(e);
        reject(e);
      });
      req.end();
      this.#req = req;
    });
  }

  #check(t: number): void {
    for (const l of [...this.#listeners]) {
      if (l.pred()) {
        clearTimeout(l.timer);
        this.#listeners.delete(l);
        l.resolve(t);
      }
    }
  }

  /** Resolves with the arrival time of the event after which `pred` holds (now, if it already does). */
  until(pred: () => boolean, timeoutMs: number, what = 'condition'): Promise<number> {
    if (pred()) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const l: Listener = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#listeners.delete(l);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs),
      };
      this.#listeners.add(l);
    });
  }

  close(): void {
    for (const l of this.#listeners) clearTimeout(l.timer);
    this.#listeners.clear();
    this.#req?.destroy();
  }
}

export const sameSet = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a !== undefined && a.length === b.length && [...a].sort().join() === [...b].sort().join();
