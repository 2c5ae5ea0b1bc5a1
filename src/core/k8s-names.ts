// Kubernetes' syntax rules for object names, label keys and label values (apimachinery's
// validation package), so that nothing the agent writes is rejected by the API server.

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const DNS1123_SUBDOMAIN_MAX = 253;
export const LABEL_NAME_MAX = 63;
export const LABEL_VALUE_MAX = 63;

export function isDns1123Subdomain(name: string): boolean {
  return name.length <= DNS1123_SUBDOMAIN_MAX && DNS1123_SUBDOMAIN_RE.test(name);
}

/** Why a label key is invalid, or `undefined` when it is valid. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) {
    return `label key "${key}": prefix must be a lowercase DNS-1123 subdomain of at most ${DNS1123_SUBDOMAIN_MAX} characters`;
  }
  if (name.length === 0 || name.length > LABEL_NAME_MAX || !QUALIFIED_NAME_RE.test(name)) {
    return `label key "${key}": name must be 1-${LABEL_NAME_MAX} characters of [A-Za-z0-9_.-], starting and ending alphanumeric`;
  }
  return undefined;
}

/** Why a label value is invalid, or `undefined` when it is valid. */
export function labelValueError(value: string): string | undefined {
  if (value.length > LABEL_VALUE_MAX || !LABEL_VALUE_RE.test(value)) {
    return `label value "${value}": must be at most ${LABEL_VALUE_MAX} characters of [A-Za-z0-9_.-], starting and ending alphanumeric (or empty)`;
  }
  return undefined;
}
