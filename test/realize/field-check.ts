// The realizing mock's core promise: a field it does not apply is an error, never silently
// ignored. Every realizer lists the input keys it really applies and calls checkFields first.

export function fail(type: string, name: string, field: string, allowed: string): never {
  throw new Error(`realizing mock: ${type} "${name}": field "${field}" ${allowed}`);
}

export function checkFields(type: string, name: string, inputs: Record<string, unknown>, implemented: readonly string[], path = ""): void {
  const known = new Set(implemented);
  for (const [k, v] of Object.entries(inputs)) {
    if (v === undefined) continue;
    if (!known.has(k)) {
      fail(type, name, path + k, `is not implemented by the realizing mock (implemented: ${[...known].sort().join(", ")})`);
    }
  }
}

export function str(type: string, name: string, field: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") fail(type, name, field, `must be a string, got ${typeof v}`);
  return v;
}

export function num(type: string, name: string, field: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) fail(type, name, field, `must be a number, got ${typeof v}`);
  return v;
}

export function bool(type: string, name: string, field: string, v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") fail(type, name, field, `must be a boolean, got ${typeof v}`);
  return v;
}

export function strList(type: string, name: string, field: string, v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) fail(type, name, field, "must be a list of strings");
  return v as string[];
}

export function strMap(type: string, name: string, field: string, v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v) || Object.values(v).some((x) => typeof x !== "string")) {
    fail(type, name, field, "must be a map of strings");
  }
  return v as Record<string, string>;
}

export function objList(type: string, name: string, field: string, v: unknown): Record<string, unknown>[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "object" || x === null || Array.isArray(x))) fail(type, name, field, "must be a list of objects");
  return v as Record<string, unknown>[];
}

/** pulumi-docker labels are `{label, value}` lists */
export function labelList(type: string, name: string, field: string, v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, l] of (objList(type, name, field, v) ?? []).entries()) {
    checkFields(type, name, l, ["label", "value"], `${field}.${i}.`);
    const k = str(type, name, `${field}.${i}.label`, l.label);
    const val = str(type, name, `${field}.${i}.value`, l.value);
    if (k === undefined || val === undefined) fail(type, name, `${field}.${i}`, "needs label and value");
    out[k] = val;
  }
  return out;
}
