// One typed way to read JSON in tests: the caller names the shape it reads, instead of getting `any`.
// The shape is a declaration, not a check; a field the data lacks fails the test where it is read.
export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
