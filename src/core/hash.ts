import { createHash } from 'node:crypto';

/** A short, stable hex digest used to keep derived names unique after they had to be changed. */
export function shortHash(text: string, length = 10): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}
