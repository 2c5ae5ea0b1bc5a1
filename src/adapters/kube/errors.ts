// One error model for every Kubernetes call: ApiFailure (api-client.ts). The HttpApiClient throws
// ApiError, which already is one; anything else (a bug, a thrown string) is normalised here, so
// callers decide on `code` and `reason` alone (409 re-read, 410 relist, 404 gone, 0 network).
import { errorMessage } from '../../core/error-message.ts';
import type { ApiFailure } from './api-client.ts';

export type { ApiFailure };

function isFailure(err: unknown): err is ApiFailure {
  if (err === null || typeof err !== 'object') return false;
  const e = err as Partial<Record<keyof ApiFailure, unknown>>;
  return typeof e.code === 'number' && typeof e.message === 'string' && 'retryAfterSeconds' in e && 'reason' in e;
}

/** Normalises anything a Kubernetes call can throw. */
export function apiFailure(err: unknown): ApiFailure {
  if (isFailure(err)) return { code: err.code, reason: err.reason, message: err.message, retryAfterSeconds: err.retryAfterSeconds };
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  const detail = [e?.cause?.code ?? e?.code, e?.cause?.message ?? e?.message].filter((x) => typeof x === 'string').join(': ');
  return { code: 0, reason: undefined, message: detail || errorMessage(err), retryAfterSeconds: undefined };
}

export function isNotFound(err: unknown): boolean {
  return apiFailure(err).code === 404;
}
