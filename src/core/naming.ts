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

/** An interface name that can stand after the last `-` of a HEP name as it is: no `-`, lowercase. */
const PLAIN_INTERFACE_RE = /^[a-z0-9]+(\.[a-z0-9]+)*$/;
/** Longer than any interface name Calico accepts (15), so a hashed name never looks like a plain one. */
const NAME_HASH_LENGTH = 16;

/**
 * The HEP name for a (node, interface) pair, unique across all pairs of the cluster.
 *
 * `<node>-<interface>` (the Calico guide's convention) alone is ambiguous: node `a` + interface
 * `b-c` and node `a-b` + interface `c` both give `a-b-c`, and whether that collides depends on
 * other nodes' names, which one agent cannot know. So:
 * - Plain form `<node>-<interface>` only when the interface name has no `-`, is lowercase
 *   [a-z0-9] with inner dots (`eth0`, `ens3f0`, `bond0.100`), at most 15 characters, and the whole
 *   is a valid object name not ending in `-auto-hep`. The interface then has no `-`, so the last
 *   `-` of the name splits it back into node and interface: two plain names never collide.
 * - Otherwise the hashed form `<readable stem>-<16 hex>`, the hash over the exact pair (not over
 *   the joined text). Its last `-`-separated part is 16 characters, longer than any interface
 *   name, so it never equals a plain name; two hashed names collide only if their stems are equal
 *   and 64 bits of SHA-256 are equal too.
 * Existing HEPs named by the earlier scheme are renamed by the reconcile (create, then delete):
 * see `legacyHostEndpointName`.
 */
export function hostEndpointName(nodeName: string, interfaceName: string): string {
  const plain = `${nodeName}-${interfaceName}`;
  if (
    interfaceName.length <= 15 &&
    PLAIN_INTERFACE_RE.test(interfaceName) &&
    isDns1123Subdomain(plain) &&
    // `-auto-hep` is the suffix of Calico's own auto host endpoints, which kube-controllers owns.
    !plain.endsWith(AUTO_HEP_SUFFIX)
  ) {
    return plain;
  }
  const suffix = `-${shortHash(JSON.stringify([nodeName, interfaceName]), NAME_HASH_LENGTH)}`;
  let stem = toSubdomainChars(plain).slice(0, DNS1123_SUBDOMAIN_MAX - suffix.length);
  // Truncation may leave a trailing '.' or '-', which must not touch the suffix's dash.
  stem = stem.replace(/[.-]+$/, '');
  return stem.length > 0 ? `${stem}${suffix}` : suffix.slice(1);
}

/**
 * The name the agent gave a pair before names were made unique across nodes (until 2026-12):
 * `<node>-<interface>` whenever that was a valid name, otherwise a stem plus a 10-hex hash of the
 * joined text. Only for migration: a managed HEP carrying exactly this name for its own node and
 * interface, when it differs from `hostEndpointName`, is renamed by the reconcile.
 */
export function legacyHostEndpointName(nodeName: string, interfaceName: string): string {
  const raw = `${nodeName}-${interfaceName}`;
  if (isDns1123Subdomain(raw) && !raw.endsWith(AUTO_HEP_SUFFIX)) return raw;
  const suffix = `-${shortHash(raw)}`;
  let stem = toSubdomainChars(raw).slice(0, DNS1123_SUBDOMAIN_MAX - suffix.length);
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
