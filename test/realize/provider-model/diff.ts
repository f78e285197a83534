// The engine's view of a second `pulumi up`: for each resource still declared, the provider's
// Diff of the prior state against the new inputs decides same / update / replace. This file is
// the generic part of a bridged (Terraform SDKv2) provider's diff, as pulumi-terraform-bridge
// runs it (pkg/tfbridge/provider.go Diff → the provider's PlanResourceChange / schemaMap.Diff in
// hashicorp/terraform-plugin-sdk helper/schema/schema.go):
//  - an attribute set in config is compared with the prior state's value of it, where the state
//    holds what the provider's Read set (after Create, Read runs and its result is the state;
//    `pulumi up` does not refresh by default, so the state is that first read);
//  - an attribute absent from config keeps its prior value when it is Computed (no diff), and
//    is a change to null when it is not Computed and the state holds a non-empty value;
//  - Set-typed attributes compare as sets (order never matters), List-typed ones in order;
//  - a DiffSuppressFunc can declare two values equal; a changed ForceNew attribute replaces the
//    resource, any other changed attribute updates it in place;
//  - an unknown value (an input computed from a resource that is itself being created or
//    replaced) counts as changed.
// The per-type facts (which attributes are ForceNew, Computed, Sets; how Read normalizes) live
// beside this file, one module per provider, each rule citing the upstream file it comes from.
import { isUnknown } from "@pulumi/pulumi";

export type Kind = "scalar" | "list" | "set" | "map" | "block";

export interface FieldRule {
  /** a change replaces the resource (schema ForceNew) */
  forceNew: boolean;
  /** absent from config: the prior state's value stands (schema Computed) */
  computed?: boolean;
  /** absent from config: the schema Default is the config's value, compared with the state */
  default?: unknown;
  kind?: Kind;
  /** the value config means, in the form the provider's Read writes to state (defaults applied) */
  normalize?: (v: unknown) => unknown;
  /** equal despite differing forms (DiffSuppressFunc) */
  suppress?: (prior: unknown, next: unknown) => boolean;
  /** where the rule comes from: upstream file (and function) */
  source: string;
}

export interface ResourceRules {
  type: string;
  fields: Record<string, FieldRule>;
  /** input keys the SDK adds that the provider does not diff */
  ignored?: readonly string[];
}

export interface FieldChange {
  field: string;
  action: "update" | "replace";
  prior: unknown;
  next: unknown;
}

export interface DiffResult {
  op: "same" | "update" | "replace";
  changes: FieldChange[];
}

const UNKNOWN = "(known after apply)";

/** Deeply replaces Pulumi unknowns with a marker no real value equals. */
export function markUnknowns(v: unknown): unknown {
  if (isUnknown(v)) return UNKNOWN;
  if (Array.isArray(v)) return v.map(markUnknowns);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, markUnknowns(x)]));
  return v;
}

export function hasUnknown(v: unknown): boolean {
  if (v === UNKNOWN || isUnknown(v)) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (typeof v === "object" && v !== null) return Object.values(v).some(hasUnknown);
  return false;
}

/** Canonical JSON: object keys sorted, undefined members dropped. */
export function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/**
 * Empty in Terraform SDKv2's sense: null, "", false, 0, [], {}. SDKv2 cannot tell an unset
 * primitive from its zero value (ResourceData.Get returns the zero value for both), so a state of
 * `false` or `0` against an absent config is no change — which is why a Read that always writes
 * `publish_all_ports = false` does not make every container differ.
 */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.values(v).every(isEmpty);
  return false;
}

function comparable(rule: FieldRule, v: unknown): string {
  if (rule.kind === "set" && Array.isArray(v)) return canonical(v.map(canonical).sort());
  return canonical(v);
}

export function equalUnder(rule: FieldRule, prior: unknown, next: unknown): boolean {
  if (hasUnknown(next)) return false;
  if (rule.suppress?.(prior, next)) return true;
  if (isEmpty(prior) && isEmpty(next)) return true;
  return comparable(rule, prior) === comparable(rule, next);
}

/**
 * Diffs `state` (the provider's state after its last Create/Update + Read) against `news` (the
 * new inputs, unwrapped, unknowns marked). An input key the rules do not know is an error: the
 * model must say what the provider does with every field the program sets.
 */
export function diffByRules(rules: ResourceRules, name: string, state: Record<string, unknown>, news: Record<string, unknown>): DiffResult {
  const changes: FieldChange[] = [];
  const ignored = new Set(rules.ignored ?? []);
  for (const k of Object.keys(news)) {
    if (news[k] !== undefined && !ignored.has(k) && !rules.fields[k]) {
      throw new Error(`provider model: ${rules.type} "${name}": input "${k}" has no diff rule (add it with its upstream source)`);
    }
  }
  for (const [field, rule] of Object.entries(rules.fields)) {
    const raw = news[field];
    const prior = state[field];
    if ((raw === undefined || raw === null) && rule.default !== undefined) {
      if (!equalUnder(rule, prior ?? rule.default, rule.default)) changes.push({ field, action: rule.forceNew ? "replace" : "update", prior, next: rule.default });
      continue;
    }
    if (raw === undefined || raw === null) {
      if (rule.computed || isEmpty(prior) || rule.suppress?.(prior, "")) continue;
      changes.push({ field, action: rule.forceNew ? "replace" : "update", prior, next: undefined });
      continue;
    }
    const next = rule.normalize && !hasUnknown(raw) ? rule.normalize(raw) : raw;
    if (!equalUnder(rule, prior, next)) changes.push({ field, action: rule.forceNew ? "replace" : "update", prior, next });
  }
  const op = changes.some((c) => c.action === "replace") ? "replace" : changes.length ? "update" : "same";
  return { op, changes };
}

/** The state a create leaves for fields the provider's Read does not set: the config, normalized. */
export function stateFromConfig(rules: ResourceRules, inputs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(rules.fields)) {
    const v = inputs[field];
    if (v === undefined || v === null) continue;
    out[field] = rule.normalize ? rule.normalize(v) : v;
  }
  return out;
}
