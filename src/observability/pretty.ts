// Human-readable log lines for a terminal. In a pod stdout is not a TTY and logs stay JSON lines;
// a person running the agent by hand gets `12:00:01 INFO  created HostEndpoint hostEndpoint=n1-eth0`.
// A few lines of code instead of pino-pretty, which would pull a worker-thread transport into the agent.
import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'app', 'pid', 'hostname']);

/** Formats one pino JSON line; returns the input unchanged if it is not one. */
export function prettyLine(line: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line;
  }
  // A JSON scalar or array is not a pino record either.
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
  const rec = parsed as Record<string, unknown>;
  const time = typeof rec['time'] === 'number' ? new Date(rec['time']).toISOString().slice(11, 19) : '';
  const level = (LEVELS[rec['level'] as number] ?? String(rec['level'])).padEnd(5);
  const fields = Object.entries(rec)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [time, level, typeof rec['msg'] === 'string' ? rec['msg'] : rec['msg'] === undefined ? '' : JSON.stringify(rec['msg']), ...fields]
    .filter((s) => s !== '')
    .join(' ');
}

/** A stream for pino's destination that pretty-prints each line to `out`. */
export function prettyStream(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line !== '') out.write(`${prettyLine(line)}\n`);
      done();
    },
  });
}
