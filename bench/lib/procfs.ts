// CPU time and memory of a process (and its children) from /proc, for the agent measured from outside.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcSample {
  /** utime + stime of the process itself, in seconds. */
  readonly cpuSeconds: number;
  /** cutime + cstime: children it has waited for (the short `ip` discovery runs), in seconds. */
  readonly childCpuSeconds: number;
  readonly rssBytes: number;
  readonly hwmBytes: number;
}

export function readProc(pid: number, clkTck = 100): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14 -> rest[11].
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const cutime = Number(rest[13]);
    const cstime = Number(rest[14]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: (utime + stime) / clkTck, childCpuSeconds: (cutime + cstime) / clkTck, rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (e.g. the agent's long-running `ip monitor`). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

export const MiB = 2 ** 20;
