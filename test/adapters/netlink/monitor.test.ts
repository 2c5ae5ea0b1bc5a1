// NetlinkMonitor: line filtering and backoff (pure), supervision with fake `ip` executables (no root),
// and a real `ip monitor` in a network namespace (skipped with the reason printed when not root).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { interfaceNameFilter } from '../../../src/core/select.ts';
import {
  backoffDelay,
  deathSignalPrefix,
  DEFAULT_BACKOFF,
  isRelevantMonitorLine,
  monitorLineLink,
  NetlinkMonitor,
  type MonitorChange,
  type MonitorTimers,
  type NetlinkMonitorOptions,
} from '../../../src/adapters/netlink/monitor.ts';
import { canUseNetns, Netns } from '../../helpers/netns.ts';
import { waitFor } from '../../helpers/wait.ts';
import { prereq } from '../../helpers/prereq.ts';

const netnsSkip = prereq(await canUseNetns());
const setprivSkip = prereq((await deathSignalPrefix()).length === 0 ? 'setpriv (util-linux) not on PATH' : null);

/**
 * Collects changes. `next(pred)` resolves with the first not yet consumed change matching `pred`
 * (earlier ones included, so a change that arrived before the call is not missed) and consumes it
 * together with everything before it.
 */
class Recorder {
  readonly changes: MonitorChange[] = [];
  #cursor = 0;
  #waiter: { pred: (c: MonitorChange) => boolean; resolve: (c: MonitorChange) => void } | undefined;

  readonly onChange = (change: MonitorChange): void => {
    this.changes.push(change);
    this.#check();
  };

  #check(): void {
    const w = this.#waiter;
    if (w === undefined) return;
    while (this.#cursor < this.changes.length) {
      const c = this.changes[this.#cursor++] as MonitorChange;
      if (w.pred(c)) {
        this.#waiter = undefined;
        w.resolve(c);
        return;
      }
    }
  }

  next(pred: (c: MonitorChange) => boolean, timeoutMs = 3000): Promise<MonitorChange> {
    assert.equal(this.#waiter, undefined, 'one next() at a time');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no matching change within ${timeoutMs} ms; got ${JSON.stringify(this.changes)}`));
      }, timeoutMs);
      this.#waiter = {
        pred,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      this.#check();
    });
  }

  count(reason: MonitorChange['reason']): number {
    return this.changes.filter((c) => c.reason === reason).length;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Real timers that record the restart delays asked for, and count the callbacks still scheduled: with the
 * child gone and nothing scheduled, the monitor has no way left to restart or report (no sleep needed to see it).
 */
function recordingTimers(): MonitorTimers & { delays: number[]; pending: () => number } {
  const delays: number[] = [];
  const live = new Set<unknown>();
  return {
    delays,
    pending: () => live.size,
    setTimeout: (fn, ms) => {
      delays.push(ms);
      const h = setTimeout(() => {
        live.delete(h);
        fn();
      }, ms);
      live.add(h);
      return h;
    },
    clearTimeout: (h) => {
      live.delete(h);
      clearTimeout(h as ReturnType<typeof setTimeout>);
    },
    setImmediate: (fn) => {
      const h = setImmediate(() => {
        live.delete(h);
        fn();
      });
      live.add(h);
      return h;
    },
    clearImmediate: (h) => {
      live.delete(h);
      clearImmediate(h as ReturnType<typeof setImmediate>);
    },
  };
}

describe('isRelevantMonitorLine', () => {
  // Lines captured from `ip -o monitor link address route`.
  const relevant = [
    String.raw`3: vA    inet 203.0.113.5/24 scope global vA\       valid_lft forever preferred_lft forever`,
    String.raw`Deleted 3: vA    inet 203.0.113.5/24 scope global vA\       valid_lft forever preferred_lft forever`,
    String.raw`6: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN group default \    link/ether ba:0e:7d:d5:66:15 brd ff:ff:ff:ff:ff:ff`,
    String.raw`Deleted 15: dd@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \    link/ether f2:03:c8:c1:5c:49 brd ff:ff:ff:ff:ff:ff`,
    'default via 192.0.2.1 dev vA ',
    'Deleted default via 192.0.2.1 dev vA ',
    'default via 2001:db8::2 dev vA metric 99 pref medium',
    'unreachable default dev lo metric 4000 pref medium',
    'default nhid 5 via 198.51.100.2 dev eth0 metric 7000',
  ];
  const irrelevant = [
    'local 203.0.113.5 dev vA table local proto kernel scope host src 203.0.113.5 ',
    '203.0.113.0/24 dev vA proto kernel scope link src 203.0.113.5 ',
    'Deleted broadcast 203.0.113.255 dev vA table local proto kernel scope link src 203.0.113.5 ',
    'multicast ff00::/8 dev br0 table local proto kernel metric 256 pref medium',
    'fe80::/64 dev br0 proto kernel metric 256 pref medium',
    '10.244.1.7 dev cali12345 scope link ',
    '',
    '   ',
  ];
  for (const line of relevant) test(`relevant: ${line.slice(0, 60)}`, () => assert.equal(isRelevantMonitorLine(line), true));
  for (const line of irrelevant) test(`irrelevant: ${JSON.stringify(line.slice(0, 60))}`, () => assert.equal(isRelevantMonitorLine(line), false));
});

test('backoffDelay grows exponentially, is capped, and jitter only shortens it', () => {
  const b = { ...DEFAULT_BACKOFF, initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, b, () => 0)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(
    backoffDelay(3, b, () => 0.999999),
    200,
  );
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, b, Math.random);
    assert.ok(d >= 100 && d <= 200, String(d));
  }
  assert.equal(
    backoffDelay(2, { ...b, jitter: 0 }, () => 0.7),
    200,
  );
});

test('monitorLineLink: the link a link or address line is about; none for routes', () => {
  assert.equal(monitorLineLink('3: eth0: <BROADCAST,MULTICAST,UP> mtu 1500 state UP'), 'eth0');
  assert.equal(monitorLineLink('Deleted 12: veth1a2b@if3: <BROADCAST> mtu 1500'), 'veth1a2b');
  assert.equal(monitorLineLink('7: cali12345    inet6 fe80::ecee:eeff:feee:eeee/64 scope link'), 'cali12345');
  assert.equal(monitorLineLink('Deleted 3: eth0    inet 192.0.2.1/24 scope global eth0'), 'eth0');
  assert.equal(monitorLineLink('default via 192.0.2.254 dev eth0'), undefined);
});

describe('NetlinkMonitor supervising a fake ip', () => {
  let dir: string;
  const monitors: NetlinkMonitor[] = [];
  const script = async (name: string, body: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };
  const make = (opts: Omit<NetlinkMonitorOptions, 'onChange'> & { recorder: Recorder }): NetlinkMonitor => {
    const m = new NetlinkMonitor({ readyTimeoutMs: 0, ...opts, onChange: opts.recorder.onChange });
    monitors.push(m);
    return m;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hep-monitor-'));
  });
  after(async () => {
    await Promise.all(monitors.map((m) => m.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  test('signals started, then one coalesced change for a burst of lines; irrelevant lines alone signal nothing', async () => {
    // The burst arrives in one write; the pod-route line alone must not signal; then a last link line.
    const ip = await script(
      'ip-burst',
      String.raw`printf '3: vA    inet 192.0.2.1/24 scope global vA\n3: vA    inet6 2001:db8::1/64 scope global\ndefault via 192.0.2.254 dev vA\n203.0.113.0/24 dev vA scope link\n'
sleep 0.05
printf '10.244.1.7 dev cali1 scope link\n'
sleep 0.05
printf '4: vB: <BROADCAST> mtu 1500'
sleep 0.05
printf ' state DOWN\n'
exec sleep 30`,
    );
    const rec = new Recorder();
    const m = make({ ipCommand: ip, recorder: rec });
    m.start();
    assert.deepEqual(await rec.next(() => true), { reason: 'started', lines: 0 });
    const first = await rec.next((c) => c.reason === 'event');
    assert.deepEqual(first, { reason: 'event', lines: 3, sample: '3: vA    inet 192.0.2.1/24 scope global vA' });
    // The line split across two writes is reassembled into one change.
    const second = await rec.next((c) => c.reason === 'event');
    assert.deepEqual(second, { reason: 'event', lines: 1, sample: '4: vB: <BROADCAST> mtu 1500 state DOWN' });
    assert.equal(rec.count('event'), 2);
    assert.equal(m.alive, true);
    assert.equal(m.restarts, 0);
    assert.equal(typeof m.health.pid, 'number');
    await m.stop();
    assert.equal(m.alive, false);
  });

  test('pod churn on excluded links (veth*, cali*) is dropped by the interface selection before it causes work', async () => {
    // 100 pods come and go: a veth and a cali link each, with their fe80 addresses; then one eth1 change.
    const ip = await script(
      'ip-churn',
      String.raw`i=0
while [ $i -lt 100 ]; do
  printf '%d: veth%d@if3: <BROADCAST,UP> mtu 1500 state UP
%d: veth%d    inet6 fe80::1/64 scope link
Deleted %d: cali%d: <BROADCAST> mtu 1500
' $((i+10)) $i $((i+10)) $i $((i+200)) $i
  i=$((i+1))
done
sleep 0.05
printf '3: eth1    inet 198.51.100.10/24 scope global eth1
'
exec sleep 30`,
    );
    const rec = new Recorder();
    const m = make({
      ipCommand: ip,
      recorder: rec,
      linkFilter: interfaceNameFilter({ include: ['*'], exclude: [], useDefaultExcludes: true }),
    });
    m.start();
    await rec.next((c) => c.reason === 'started');
    const ev = await rec.next((c) => c.reason === 'event');
    assert.deepEqual(ev, { reason: 'event', lines: 1, sample: '3: eth1    inet 198.51.100.10/24 scope global eth1' });
    assert.equal(rec.count('event'), 1, 'the churn caused no signal at all');
    assert.equal(m.health.filtered, 300);
    await m.stop();
  });

  test('a killed agent does not leave its ip monitor behind (setpriv --pdeathsig)', { skip: setprivSkip }, async () => {
    const ip = await script('ip-forever', 'exec sleep 300');
    const agentScript = join(dir, 'agent.ts');
    const monitorModule = fileURLToPath(new URL('../../../src/adapters/netlink/monitor.ts', import.meta.url));
    await writeFile(
      agentScript,
      `import { NetlinkMonitor, deathSignalPrefix } from ${JSON.stringify(monitorModule)};
const m = new NetlinkMonitor({ ipCommand: ${JSON.stringify(ip)}, readyTimeoutMs: 0, spawnPrefix: await deathSignalPrefix(), onChange: (c) => { if (c.reason === 'started') console.log(String(m.health.pid)); } });
m.start();
setInterval(() => {}, 1000);
`,
    );
    const agent = spawn(process.execPath, [agentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve, reject) => {
      agent.stdout.setEncoding('utf8');
      agent.stdout.once('data', (d: string) => resolve(Number(d.trim())));
      agent.once('exit', () => reject(new Error('agent exited early')));
    });
    assert.ok(childPid > 0);
    const exists = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.equal(exists(childPid), true);
    agent.kill('SIGKILL');
    await new Promise((r) => agent.once('exit', r));
    // The kernel delivers the death signal at the parent's exit; the orphan is reaped by init.
    for (let i = 0; i < 200 && exists(childPid); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(exists(childPid), false, 'the ip monitor child died with the agent');
  });

  test('restarts a child that exits, with exponential backoff, and signals started after each restart', async () => {
    const ip = await script('ip-crash', `echo '1: lo: <LOOPBACK>'; exit 3`);
    const rec = new Recorder();
    const timers = recordingTimers();
    const m = make({ ipCommand: ip, recorder: rec, timers, random: () => 0, backoff: { initialMs: 10, maxMs: 40, factor: 2, stableAfterMs: 60_000 } });
    m.start();
    while (m.restarts < 4) await rec.next((c) => c.reason === 'started');
    const crashed = m.health.lastExit;
    await m.stop();
    assert.deepEqual(timers.delays.slice(0, 4), [10, 20, 40, 40]);
    assert.equal(crashed?.code, 3);
    assert.ok(rec.count('started') >= 5);
    assert.ok(rec.count('event') >= 1);
    // Stopped for good: no restart comes after stop() (nothing is left scheduled that could start one).
    assert.equal(timers.pending(), 0, 'nothing scheduled after stop()');
    assert.equal(m.alive, false);
  });

  test('a child that ran long enough resets the backoff', async () => {
    const ip = await script('ip-crash-slow', `sleep 0.05; exit 1`);
    const rec = new Recorder();
    const timers = recordingTimers();
    const m = make({ ipCommand: ip, recorder: rec, timers, random: () => 0, backoff: { initialMs: 10, maxMs: 1000, stableAfterMs: 30 } });
    m.start();
    while (m.restarts < 3) await rec.next((c) => c.reason === 'started');
    await m.stop();
    assert.deepEqual(timers.delays.slice(0, 3), [10, 10, 10]);
  });

  test('a missing ip keeps being retried and reported in health; stop() ends the retries', async () => {
    const rec = new Recorder();
    const timers = recordingTimers();
    const m = make({ ipCommand: join(dir, 'no-such-ip'), recorder: rec, timers, backoff: { initialMs: 5, maxMs: 5 } });
    m.start();
    await waitFor('two retries', () => m.restarts >= 2);
    assert.equal(m.alive, false);
    assert.ok(m.restarts >= 2, String(m.restarts));
    assert.match(m.health.lastError ?? '', /ENOENT/);
    await m.stop();
    assert.equal(timers.pending(), 0, 'no retry scheduled after stop()');
    assert.equal(rec.changes.length, 0);
  });

  test('stop() resolves promptly, escalating to SIGKILL for a child that ignores SIGTERM', async () => {
    // The line tells the test the trap is in place.
    const ip = await script('ip-stubborn', `trap '' TERM; echo '1: lo: <LOOPBACK>'; exec sleep 30`);
    const rec = new Recorder();
    const m = make({ ipCommand: ip, recorder: rec, killTimeoutMs: 100 });
    m.start();
    await rec.next((c) => c.reason === 'event');
    const t0 = performance.now();
    await m.stop();
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(m.alive, false);
    assert.equal(m.health.lastExit?.signal, 'SIGKILL');
    // stop() is idempotent, start() after stop() does nothing.
    await m.stop();
    m.start();
    assert.equal(m.alive, false);
  });

  test('an onChange that throws is logged, not fatal', async () => {
    const ip = await script('ip-one', `echo '1: lo: <LOOPBACK>'; exec sleep 30`);
    const errors: unknown[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (obj: object) => errors.push(obj) };
    let calls = 0;
    const m = new NetlinkMonitor({
      ipCommand: ip,
      readyTimeoutMs: 0,
      logger,
      onChange: () => {
        calls++;
        throw new Error('boom');
      },
    });
    monitors.push(m);
    m.start();
    for (let i = 0; i < 100 && calls < 2; i++) await sleep(10);
    assert.equal(calls, 2); // started + event
    assert.equal(errors.length, 2);
    assert.equal(m.alive, true);
    await m.stop();
  });
});

describe('NetlinkMonitor on a real kernel', { skip: netnsSkip }, () => {
  let ns: Netns;
  let m: NetlinkMonitor | undefined;
  before(async () => {
    ns = await Netns.create();
    // No IPv6 link-local (its DAD completion would be an extra, late event).
    await ns.batch([
      'link add m0 type veth peer name m0p',
      'link set m0 addrgenmode none',
      'link set m0p addrgenmode none',
      'link set m0 up',
      'link set m0p up',
    ]);
    // The kernel reports operstate changes later (linkwatch, up to a second under load): wait for
    // them so they do not show up as the changes the test makes.
    for (let i = 0; i < 200; i++) {
      const links = (await ns.ipJson('link', 'show')) as { ifname: string; operstate: string }[];
      if (links.filter((l) => l.ifname.startsWith('m0')).every((l) => l.operstate === 'UP')) break;
      await sleep(10);
    }
  });
  after(async () => {
    await m?.stop();
    await ns?.destroy();
  });

  test('address changes signal; a killed child restarts; stop() ends it', async () => {
    const rec = new Recorder();
    const timers = recordingTimers();
    m = new NetlinkMonitor({ netns: ns.name, onChange: rec.onChange, backoff: { initialMs: 20 }, timers });
    m.start();
    // `started` comes once the child's netlink socket is subscribed, so nothing after it can be missed.
    await rec.next((c) => c.reason === 'started');
    await ns.addAddr('m0', '192.0.2.1/24');
    await rec.next((c) => c.reason === 'event' && /m0\s+inet 192\.0\.2\.1\/24/.test(c.sample ?? ''));

    const pid = m.health.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    await rec.next((c) => c.reason === 'started' && m?.restarts === 1);
    assert.equal(m.alive, true);
    assert.notEqual(m.health.pid, pid);
    assert.equal(m.health.lastExit?.signal, 'SIGKILL');

    await ns.addDefaultRoute('m0', { via: '192.0.2.254' });
    await rec.next((c) => c.reason === 'event' && /^default via 192\.0\.2\.254 dev m0/.test(c.sample ?? ''));

    const t0 = performance.now();
    await m.stop();
    assert.ok(performance.now() - t0 < 500);
    assert.equal(m.alive, false);
    // The child is gone and nothing is scheduled, so a later kernel change has no way to be reported.
    assert.equal(timers.pending(), 0, 'nothing scheduled after stop()');
    const events = rec.changes.length;
    await ns.delAddr('m0', '192.0.2.1/24');
    assert.equal(rec.changes.length, events);
  });
});
