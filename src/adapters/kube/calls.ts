import { ApiException } from '@kubernetes/client-node';
import type { ApiObserver, ApiVerb } from './observer.ts';

/** Runs one API call and reports its verb and HTTP code, whether it succeeded or not. */
export async function observed<T>(observer: ApiObserver, verb: ApiVerb, resource: string, call: () => Promise<T>): Promise<T> {
  try {
    const result = await call();
    observer.request(verb, resource, verb === 'create' ? 201 : 200);
    return result;
  } catch (err) {
    observer.request(verb, resource, err instanceof ApiException ? err.code : 0);
    throw err;
  }
}
