// HEP object names and the label values that identify a HEP's node and interface.
import { shortHash } from './hash.ts';
import { DNS1123_SUBDOMAIN_MAX, LABEL_VALUE_MAX, isDns1123Subdomain, labelValueError } from './k8s-names.ts';

const AUTO_HEP_SUFFIX = '-auto-hep';

/** Calico's rule for HostEndpoint.spec.interfaceName (besides `*`). */
export const CALICO_INTERFACE_NAME_RE = /^[a-zA-Z0-9_.-]{1,15}$/;

/**
 * Turns arbitrary text into something close to a DNS-1123 subdomain: lowercase, only [a-z0-9.-],
 * no empty or dash-edged dot-separated parts. May return an empty string.
 */
function toSubdomainChars(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .split('.')
    .map((part) => part.replace(/^-+|-+$/g, ''))
    .filter((part) => part.length > 0)
    .join('.');
}

/**
 * The HEP name for an interface: `<node>-<interface>`, the Calico guide's convention, when that is
 * already a valid object name. Otherwise (uppercase, `_`, too long, ...) a sanitised form with a
 * hash of the original suffix, so that `eth_0` and `eth-0` cannot collide. Never ends in `-auto-hep`.
 */
export function hostEndpointName(nodeName: string, interfaceName: string): string {
  const raw = `${nodeName}-${interfaceName}`;
  // `-auto-hep` is the suffix of Calico's own auto host endpoints, which kube-controllers owns.
  if (isDns1123Subdomain(raw) && !raw.endsWith(AUTO_HEP_SUFFIX)) return raw;
  const suffix = `-${shortHash(raw)}`;
  let stem = toSubdomainChars(raw).slice(0, DNS1123_SUBDOMAIN_MAX - suffix.length);
  // Truncation may leave a trailing '.' or '-', which must not touch the suffix's dash.
  stem = stem.replace(/[.-]+$/, '');
  return stem.length > 0 ? `${stem}${suffix}` : suffix.slice(1);
}

/**
 * A label value naming `text` (a node or interface name). Label values are capped at 63 characters
 * and have a stricter alphabet than node names, so an unusable name becomes a prefix plus a hash.
 */
export function identityLabelValue(text: string): string {
  if (labelValueError(text) === undefined) return text;
  const suffix = `-${shortHash(text)}`;
  const stem = text
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .slice(0, LABEL_VALUE_MAX - suffix.length)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return stem.length > 0 ? `${stem}${suffix}` : suffix.slice(1);
}
