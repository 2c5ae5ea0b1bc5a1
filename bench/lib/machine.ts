// What the figures were measured on: recorded with every result.
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';

export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memTotalGiB: number;
  readonly node: string;
  readonly kernel: string;
  readonly loadavgAtStart: number[];
  readonly clkTck: number;
}

export function machine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  let clkTck = 100;
  try {
    clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    // getconf missing: Linux's USER_HZ is 100 everywhere that matters.
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    memTotalGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    clkTck,
  };
}
