// Admission-time processing of written objects, in the real server's order for custom resources:
// prune unknown fields (structural schema) and drop non-nullable nulls -> apply schema defaults ->
// validate the OpenAPI schema (ajv, with the Kubernetes extensions mapped) and the x-kubernetes-validations CEL
// rules -> validate ObjectMeta. Failures are collected as Status causes for a 422 Invalid.
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as celParse } from '@marcbachmann/cel-js';
import type { ResourceType } from './resources.ts';
import type { KubeObject } from './store.ts';
import type { StatusCause } from './status.ts';

type Schema = Record<string, unknown>;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---- ObjectMeta ---------------------------------------------------------------------------------------------

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const q = (v: unknown) => JSON.stringify(v);

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

export function dnsSubdomainErrors(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(v)) errs.push(SUBDOMAIN_MSG);
  return errs;
}

function qualifiedNameErrors(key: string): string[] {
  const parts = key.split('/');
  const errs: string[] = [];
  let name = key;
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...dnsSubdomainErrors(prefix).map((e) => `prefix part ${e}`));
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !QUALIFIED_NAME.test(name)) {
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
  return errs;
}

export function validateObjectMeta(obj: KubeObject, type: ResourceType, opts: { create: boolean }): StatusCause[] {
  const causes: StatusCause[] = [];
  const m = obj.metadata;
  const invalid = (field: string, value: unknown, msg: string) =>
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${q(value)}: ${msg}` });
  if (!m.name && !(opts.create && m.generateName)) {
    causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  } else if (m.name) {
    // Namespaces are DNS labels; everything we serve else is a DNS subdomain (ValidateObjectMeta with NameIsDNSSubdomain).
    const errs =
      type.resource === 'namespaces'
        ? DNS1123_LABEL.test(m.name) && m.name.length <= 63
          ? []
          : [
              "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ]
        : dnsSubdomainErrors(m.name);
    for (const e of errs) invalid('metadata.name', m.name, e);
  }
  if (type.namespaced && !m.namespace) {
    causes.push({ reason: 'FieldValueRequired', field: 'metadata.namespace', message: 'Required value' });
  }
  if (!type.namespaced && m.namespace) {
    causes.push({ reason: 'FieldValueForbidden', field: 'metadata.namespace', message: 'Forbidden: not allowed on this type' });
  }
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    for (const e of qualifiedNameErrors(k)) invalid('metadata.labels', k, e);
    if (typeof v !== 'string' || v.length > 63) invalid(`metadata.labels`, v, 'must be no more than 63 characters');
    else if (!LABEL_VALUE.test(v))
      invalid(
        'metadata.labels',
        v,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      );
  }
  let annBytes = 0;
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    for (const e of qualifiedNameErrors(k.toLowerCase())) invalid('metadata.annotations', k, e);
    annBytes += k.length + String(v).length;
  }
  if (annBytes > 256 * 1024) causes.push({ reason: 'FieldValueTooLong', field: 'metadata.annotations', message: 'Too long: must have at most 262144 bytes' });
  for (const [i, r] of (m.ownerReferences ?? []).entries()) {
    for (const f of ['apiVersion', 'kind', 'name', 'uid'] as const) {
      if (!r[f]) causes.push({ reason: 'FieldValueRequired', field: `metadata.ownerReferences[${i}].${f}`, message: `Required value` });
    }
  }
  if ((m.ownerReferences ?? []).filter((r) => r.controller).length > 1) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.ownerReferences',
      message: 'Invalid value: "[...]": Only one reference can have Controller set to true',
    });
  }
  return causes;
}

// ---- structural schema: pruning, nulls, defaults ----------------------------------------------------------

const OBJECT_META_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);

/** Returns the dotted paths of pruned unknown fields ("spec.foo") so the caller can warn or (Strict) reject. */
export function pruneAndDefault(obj: KubeObject, schema: Schema): string[] {
  const unknown: string[] = [];
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  for (const k of Object.keys(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
    if (!(k in props)) {
      unknown.push(k);
      delete obj[k];
      continue;
    }
    const v = walk(obj[k], props[k]!, k, unknown);
    if (v === undefined) delete obj[k];
    else obj[k] = v;
  }
  for (const k of Object.keys(obj.metadata))
    if (!OBJECT_META_FIELDS.has(k)) {
      unknown.push(`metadata.${k}`);
      delete obj.metadata[k];
    }
  applyDefaults(obj, schema);
  return unknown;
}

function walk(v: unknown, s: Schema, path: string, unknown: string[]): unknown {
  if (v === null) return s.nullable === true ? null : undefined; // non-nullable nulls are pruned, not rejected
  if (Array.isArray(v) && isObj(s.items)) {
    return v.map((x, i) => walk(x, s.items as Schema, `${path}[${i}]`, unknown)).filter((x) => x !== undefined);
  }
  if (!isObj(v)) return v;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  const props = s.properties as Record<string, Schema> | undefined;
  const addl = isObj(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, c] of Object.entries(v)) {
    const p = `${path}.${k}`;
    const cs = props?.[k] ?? addl;
    if (cs) {
      const w = walk(c, cs, p, unknown);
      if (w !== undefined) out[k] = w;
    } else if (preserve || s.additionalProperties === true) out[k] = c;
    else unknown.push(p);
  }
  return out;
}

function applyDefaults(v: unknown, s: Schema): void {
  if (Array.isArray(v) && isObj(s.items)) {
    for (const x of v) applyDefaults(x, s.items);
    return;
  }
  if (!isObj(v)) return;
  const props = (s.properties ?? {}) as Record<string, Schema>;
  for (const [k, cs] of Object.entries(props)) {
    if (v[k] === undefined && cs.default !== undefined) v[k] = structuredClone(cs.default);
    if (v[k] !== undefined) applyDefaults(v[k], cs);
  }
  if (isObj(s.additionalProperties)) for (const x of Object.values(v)) applyDefaults(x, s.additionalProperties);
}

// ---- OpenAPI schema via ajv ----------------------------------------------------------------------------------

/** Rewrites a CRD schema into plain JSON Schema ajv understands (the k8s extensions become JSON Schema or go). */
function toJsonSchema(s: Schema, isRoot = false): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'description' || k === 'nullable' || k === 'default' || k === 'example') continue;
    if (k === 'properties' && isObj(v)) {
      out.properties = Object.fromEntries(
        Object.entries(v).map(([pk, pv]) => [pk, isRoot && pk === 'metadata' ? { type: 'object' } : toJsonSchema(pv as Schema)]),
      );
    } else if ((k === 'items' || k === 'additionalProperties' || k === 'not') && isObj(v)) out[k] = toJsonSchema(v);
    else if ((k === 'anyOf' || k === 'allOf' || k === 'oneOf') && Array.isArray(v)) out[k] = v.map((x) => toJsonSchema(x as Schema));
    else out[k] = v;
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    if (!out.anyOf) out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
const fmt = (re: RegExp) => (x: string) => re.test(x);
ajv.addFormat('int32', { type: 'number', validate: (x: number) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (x: number) => Number.isInteger(x) });
ajv.addFormat('float', { type: 'number', validate: () => true });
ajv.addFormat('double', { type: 'number', validate: () => true });
ajv.addFormat('byte', fmt(/^[A-Za-z0-9+/]*={0,2}$/));
ajv.addFormat('date-time', fmt(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/));
ajv.addFormat('date', fmt(/^\d{4}-\d{2}-\d{2}$/));
ajv.addFormat('duration', fmt(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/));
ajv.addFormat('int-or-string', { validate: () => true });
for (const f of ['uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'password']) ajv.addFormat(f, { validate: () => true });

const compiled = new WeakMap<Schema, ValidateFunction>();
function validatorFor(schema: Schema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(toJsonSchema(schema, true));
    compiled.set(schema, v);
  }
  return v;
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, t) => (/^\d+$/.test(t) ? `${acc}[${t}]` : acc ? `${acc}.${t}` : t), '');
}
const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
const show = (v: unknown) => (typeof v === 'string' ? q(v) : isObj(v) || Array.isArray(v) ? q(typeName(v)) : String(v));

function ajvCause(e: ErrorObject, obj: unknown): StatusCause | undefined {
  if (e.schemaPath.includes('/anyOf/')) return undefined; // branch noise; the anyOf error itself is reported
  const field = fieldPath(e.instancePath);
  const value = e.instancePath
    .split('/')
    .slice(1)
    .reduce<unknown>((cur, t) => (isObj(cur) || Array.isArray(cur) ? (cur as Record<string, unknown>)[t] : undefined), obj);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const f = field ? `${field}.${String(p.missingProperty)}` : String(p.missingProperty);
      return { reason: 'FieldValueRequired', field: f, message: 'Required value' };
    }
    case 'type':
      return {
        reason: 'FieldValueTypeInvalid',
        field,
        message: `Invalid value: ${q(typeName(value))}: ${field} in body must be of type ${String(p.type)}: ${q(typeName(value))}`,
      };
    case 'anyOf':
      return {
        reason: 'FieldValueTypeInvalid',
        field,
        message: `Invalid value: ${q(typeName(value))}: ${field} in body must be of type integer or string: ${q(typeName(value))}`,
      };
    case 'maxLength':
      return { reason: 'FieldValueTooLong', field, message: `Too long: may not be more than ${String(p.limit)} bytes` };
    case 'minLength':
      return {
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${show(value)}: ${field} in body should be at least ${String(p.limit)} chars long`,
      };
    case 'maximum':
      return {
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${show(value)}: ${field} in body should be less than or equal to ${String(p.limit)}`,
      };
    case 'minimum':
      return {
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${show(value)}: ${field} in body should be greater than or equal to ${String(p.limit)}`,
      };
    case 'pattern':
      return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${show(value)}: ${field} in body should match '${String(p.pattern)}'` };
    case 'enum':
      return {
        reason: 'FieldValueNotSupported',
        field,
        message: `Unsupported value: ${show(value)}: supported values: ${(p.allowedValues as unknown[]).map((x) => q(x)).join(', ')}`,
      };
    case 'maxItems':
      return { reason: 'FieldValueTooMany', field, message: `Too many: ${(value as unknown[]).length}: must have at most ${String(p.limit)} items` };
    case 'minItems':
      return {
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${(value as unknown[]).length}: ${field} in body should have at least ${String(p.limit)} items`,
      };
    case 'format':
      return {
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${show(value)}: ${field} in body must be of type ${String(p.format)}: ${show(value)}`,
      };
    default:
      return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${show(value)}: ${e.message ?? e.keyword}` };
  }
}

// ---- x-kubernetes-validations (CEL) and list-type sets ------------------------------------------------------

interface CelRule {
  rule: string;
  message?: string | undefined;
  messageExpression?: string | undefined;
  reason?: string | undefined;
  fieldPath?: string | undefined;
}
const celCache = new Map<string, ReturnType<typeof celParse>>();
function celProgram(rule: string) {
  let p = celCache.get(rule);
  if (!p) {
    p = celParse(rule);
    celCache.set(rule, p);
  }
  return p;
}
/** CEL integers are int64: JSON integers become BigInt so `self.port >= 1` type-checks like in the apiserver. */
function toCel(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toCel);
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

const REASON_PREFIX: Record<string, string> = {
  FieldValueInvalid: 'Invalid value',
  FieldValueForbidden: 'Forbidden',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
};

function celAndSets(v: unknown, old: unknown, s: Schema, path: string, causes: StatusCause[]): void {
  if (v === undefined || v === null) return;
  if (s['x-kubernetes-list-type'] === 'set' && Array.isArray(v)) {
    const seen = new Set<string>();
    v.forEach((x, i) => {
      const k = JSON.stringify(x);
      if (seen.has(k)) causes.push({ reason: 'FieldValueDuplicate', field: `${path}[${i}]`, message: `Duplicate value: ${show(x)}` });
      seen.add(k);
    });
  }
  for (const r of (s['x-kubernetes-validations'] ?? []) as CelRule[]) {
    const transition = /\boldSelf\b/.test(r.rule);
    if (transition && old === undefined) continue; // transition rules only run on update of an existing value
    const reason = r.reason ?? 'FieldValueInvalid';
    const field = r.fieldPath ? path + r.fieldPath : path;
    const vtype = Array.isArray(v) ? 'array' : isObj(v) ? 'object' : typeof v;
    let ok: unknown;
    let msg = r.message ?? `failed rule: ${r.rule.replace(/\s+/g, ' ').trim()}`;
    try {
      ok = celProgram(r.rule)({ self: toCel(v), ...(transition ? { oldSelf: toCel(old) } : {}) });
    } catch (e) {
      ok = false;
      msg = `internal error: ${(e as Error).message.split('\n')[0]} evaluating rule: ${r.rule}`;
    }
    if (ok !== true) {
      const prefix = REASON_PREFIX[reason] ?? 'Invalid value';
      causes.push({ reason, field, message: prefix === 'Invalid value' ? `Invalid value: ${q(vtype)}: ${msg}` : `${prefix}: ${msg}` });
    }
  }
  if (Array.isArray(v) && isObj(s.items)) {
    v.forEach((x, i) => celAndSets(x, undefined, s.items as Schema, `${path}[${i}]`, causes));
  } else if (isObj(v)) {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const [k, x] of Object.entries(v)) {
      const cs = props[k] ?? (isObj(s.additionalProperties) ? s.additionalProperties : undefined);
      if (cs) celAndSets(x, isObj(old) ? old[k] : undefined, cs, path ? `${path}.${k}` : k, causes);
    }
  }
}

// ---- Calico's own validator rules (libcalico-go validator), for the kinds the agent writes --------------------

const IFACE_RE = /^[a-zA-Z0-9_.-]{1,15}$/;
function calicoCauses(obj: KubeObject, type: ResourceType): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  if (type.kind === 'HostEndpoint') {
    const iface = spec.interfaceName;
    if (typeof iface === 'string' && iface !== '' && iface !== '*' && !IFACE_RE.test(iface)) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'spec.interfaceName',
        message: `Invalid value: ${q(iface)}: must be "*" or match ^[a-zA-Z0-9_.-]{1,15}$`,
      });
    }
    if (Array.isArray(spec.expectedIPs)) {
      spec.expectedIPs.forEach((ip, i) => {
        if (typeof ip !== 'string' || isIP(ip) === 0)
          causes.push({ reason: 'FieldValueInvalid', field: `spec.expectedIPs[${i}]`, message: `Invalid value: ${q(ip)}: must be a valid IP address` });
      });
    }
  }
  return causes;
}

export interface AdmitResult {
  causes: StatusCause[];
  unknownFields: string[];
}

/**
 * Prunes/defaults `obj` in place and returns the validation causes (empty: admitted).
 * `old` is the stored object on update (for CEL transition rules).
 */
export function admit(obj: KubeObject, type: ResourceType, opts: { create: boolean; old?: KubeObject; calicoRules: boolean }): AdmitResult {
  let unknownFields: string[] = [];
  const causes: StatusCause[] = [];
  if (type.schema) {
    unknownFields = pruneAndDefault(obj, type.schema);
    const validate = validatorFor(type.schema);
    if (!validate(obj))
      for (const e of validate.errors ?? []) {
        const c = ajvCause(e, obj);
        if (c) causes.push(c);
      }
    const props = (type.schema.properties ?? {}) as Record<string, Schema>;
    for (const [k, s] of Object.entries(props)) {
      if (k !== 'metadata') celAndSets(obj[k], opts.old?.[k], s, k, causes);
    }
    if (opts.calicoRules) causes.push(...calicoCauses(obj, type));
  }
  causes.push(...validateObjectMeta(obj, type, opts));
  return { causes, unknownFields };
}
