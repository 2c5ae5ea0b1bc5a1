// client-node's ApiException carries the server's Status as a JSON string in `body`; the reason
// (Conflict, AlreadyExists, Expired, ...) is what decides how to react, so parse it once here.
import { ApiException } from '@kubernetes/client-node';

export interface ApiFailure {
  /** HTTP status; 0 when no response arrived (connection refused, reset, TLS, timeout). */
  readonly code: number;
  /** Status.reason, e.g. `Conflict`, `AlreadyExists`, `NotFound`, `Expired`, `Invalid`. */
  readonly reason: string | undefined;
  readonly message: string;
  /** Seconds from Retry-After (429/503), when the server sent it. */
  readonly retryAfterSeconds: number | undefined;
}

function parseStatus(body: unknown): { reason?: string; message?: string } {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body) as unknown);
    } catch {
      return body.length > 0 ? { message: body.slice(0, 300) } : {};
    }
  }
  if (body !== null && typeof body === 'object') {
    const s = body as { reason?: unknown; message?: unknown };
    return {
      ...(typeof s.reason === 'string' ? { reason: s.reason } : {}),
      ...(typeof s.message === 'string' ? { message: s.message } : {}),
    };
  }
  return {};
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Normalises anything a client-node call can throw. */
export function apiFailure(err: unknown): ApiFailure {
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    const retryAfter = Number(header(err.headers, 'retry-after'));
    return {
      code: err.code,
      reason: status.reason,
      message: status.message ?? `HTTP ${err.code}`,
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
    };
  }
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const detail = [e.cause?.code ?? e.code, e.cause?.message ?? e.message].filter((x) => typeof x === 'string').join(': ');
  return { code: 0, reason: undefined, message: detail || String(err), retryAfterSeconds: undefined };
}

export function isNotFound(err: unknown): boolean {
  return apiFailure(err).code === 404;
}
