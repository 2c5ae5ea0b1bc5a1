// Order statistics for benchmark samples: nearest-rank percentiles (no interpolation), so every
// reported figure is a value that was actually measured.

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, min: s[0] ?? Number.NaN, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.at(-1) ?? Number.NaN, mean };
}

export const median = (xs: readonly number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** Least-squares slope of y over x with its standard error and a 95% interval (normal approximation). */
export function linearFit(
  xs: readonly number[],
  ys: readonly number[],
): { slope: number; intercept: number; stderr: number; ci95: [number, number]; r2: number; n: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i]! - (intercept + slope * xs[i]!)) ** 2;
  const stderr = Math.sqrt(sse / Math.max(1, n - 2) / sxx);
  return { slope, intercept, stderr, ci95: [slope - 1.96 * stderr, slope + 1.96 * stderr], r2: syy === 0 ? 1 : 1 - sse / syy, n };
}

export const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

export function fmtSummary(s: Summary, unit = 'ms', digits = 1): string {
  return `n=${s.n} p50=${fmt(s.p50, digits)}${unit} p90=${fmt(s.p90, digits)}${unit} p99=${fmt(s.p99, digits)}${unit} min=${fmt(s.min, digits)} max=${fmt(s.max, digits)}`;
}
