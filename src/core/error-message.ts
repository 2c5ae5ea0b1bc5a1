// The one way to turn a thrown value into words. Logs do not use it: they pass the Error itself as
// `err` so pino's serializer keeps the stack and the cause chain; this is for messages meant for
// people (CLI output, Status fields, error texts that wrap another error).

/** The message of an Error, the text of a thrown string, or the value rendered as JSON. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err !== null && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** The value as an Error: itself when it is one, else an Error whose message is errorMessage(value) and whose cause is the value. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err), { cause: err });
}
