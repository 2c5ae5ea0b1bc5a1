// metav1.Status bodies shaped like kube-apiserver's (k8s.io/apimachinery/pkg/api/errors), so clients that
// branch on `reason`/`code` (client-node, kubectl, our agent) see what a real cluster would send.

export interface StatusCause {
  reason: string;
  message: string;
  field?: string | undefined;
}
export interface StatusDetails {
  name?: string | undefined;
  group?: string | undefined;
  kind?: string | undefined;
  uid?: string | undefined;
  causes?: StatusCause[] | undefined;
  retryAfterSeconds?: number | undefined;
}
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message?: string | undefined;
  reason?: string | undefined;
  details?: StatusDetails | undefined;
  code: number;
}

export class ApiError extends Error {
  readonly status: Status;
  readonly headers: Record<string, string>;
  constructor(status: Status, headers: Record<string, string> = {}) {
    super(status.message ?? status.reason ?? String(status.code));
    this.status = status;
    this.headers = headers;
  }
  get code(): number {
    return this.status.code;
  }
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

/** "hostendpoints.projectcalico.org" / "nodes" — the qualified resource string the real server puts in messages. */
export function qualified(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource;
}

export const errors = {
  notFound: (group: string, resource: string, name: string) =>
    new ApiError(failure(404, 'NotFound', `${qualified(group, resource)} "${name}" not found`, { name, group: group || undefined, kind: resource })),
  alreadyExists: (group: string, resource: string, name: string) =>
    new ApiError(failure(409, 'AlreadyExists', `${qualified(group, resource)} "${name}" already exists`, { name, group: group || undefined, kind: resource })),
  conflict: (
    group: string,
    resource: string,
    name: string,
    why = 'the object has been modified; please apply your changes to the latest version and try again',
  ) =>
    new ApiError(
      failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(group, resource)} "${name}": ${why}`, {
        name,
        group: group || undefined,
        kind: resource,
      }),
    ),
  badRequest: (message: string) => new ApiError(failure(400, 'BadRequest', message)),
  methodNotAllowed: (message = 'the server does not allow this method on the requested resource') => new ApiError(failure(405, 'MethodNotAllowed', message)),
  unsupportedMediaType: (accepted: string[]) =>
    new ApiError(
      failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`),
    ),
  unauthorized: () => new ApiError(failure(401, 'Unauthorized', 'Unauthorized')),
  forbidden: (user: string, verb: string, group: string, resource: string, name?: string, namespace?: string) => {
    const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    const what = name ? `${qualified(group, resource)} "${name}"` : qualified(group, resource);
    return new ApiError(
      failure(403, 'Forbidden', `${what} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" ${scope}`, {
        name,
        group: group || undefined,
        kind: resource,
      }),
    );
  },
  gone: (message: string) => new ApiError(failure(410, 'Expired', message)),
  tooLargeRV: (rv: string) =>
    new ApiError(
      failure(504, 'Timeout', `Too large resource version: ${rv}, current: unknown`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      }),
    ),
  invalid: (group: string, kind: string, name: string, causes: StatusCause[]) => {
    const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
    return new ApiError(
      failure(422, 'Invalid', `${kind}${group ? '.' + group : ''} "${name}" is invalid: ${summary}`, { name, group: group || undefined, kind, causes }),
    );
  },
  unprocessable: (message: string) => new ApiError(failure(422, 'Invalid', message)),
  internal: (message: string) => new ApiError(failure(500, 'InternalError', `Internal error occurred: ${message}`)),
};

/** Status for an injected fault (test control), worded like the real server's for that code. */
export function injected(code: number, retryAfterSeconds?: number): ApiError {
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers['Retry-After'] = String(retryAfterSeconds);
  const details = retryAfterSeconds !== undefined ? { retryAfterSeconds } : undefined;
  switch (code) {
    case 429:
      return new ApiError(failure(429, 'TooManyRequests', 'Too many requests, please try again later.', details), headers);
    case 500:
      return new ApiError(failure(500, 'InternalError', 'Internal error occurred: injected by fake-apiserver', details), headers);
    case 503:
      return new ApiError(failure(503, 'ServiceUnavailable', 'The server is currently unable to handle the request', details), headers);
    case 504:
      return new ApiError(
        failure(504, 'Timeout', 'The server was unable to return a response in the time allotted, but may still be processing the request', details),
        headers,
      );
    case 409:
      return new ApiError(failure(409, 'Conflict', 'Operation cannot be fulfilled: injected conflict', details), headers);
    default:
      return new ApiError(failure(code, 'InternalError', `injected error ${code}`, details), headers);
  }
}
