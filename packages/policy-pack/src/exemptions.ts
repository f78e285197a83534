/**
 * Exemptions, the cdk-nag habit: a rule can be waived for a named resource only with a written
 * reason, kept in the policy pack's config next to the stack (reviewed like code):
 *
 *   { "octw-no-published-ports": {
 *       "enforcementLevel": "mandatory",
 *       "exemptions": [{ "resource": "metrics-exporter", "reason": "Prometheus scrapes it on 127.0.0.1 only; no tenant reaches the host" }] } }
 *
 * `resource` is the resource's URN, its Pulumi name or its Docker name, or a glob over those
 * (`*` matches any run of characters). An exemption without a reason of at least
 * MIN_REASON_LENGTH characters is refused: the preview fails naming the entry.
 */
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema.js";

export const MIN_REASON_LENGTH = 20;

export interface Exemption {
  resource: string;
  reason: string;
}

/** The JSON schema of the per-rule config (the engine validates `--policy-pack-config` against it). */
export const EXEMPTIONS_SCHEMA: PolicyConfigJSONSchema = {
  type: "array",
  items: {
    type: "object",
    properties: {
      resource: { type: "string", minLength: 1, description: "URN, Pulumi name or Docker name of the resource, or a glob (*) over them" },
      reason: { type: "string", minLength: MIN_REASON_LENGTH, description: "why this resource may break the rule (reviewed with the stack)" },
    },
    required: ["resource", "reason"],
    additionalProperties: false,
  },
};

/**
 * The rule's exemptions from its config, checked again here: the engine checks the schema, but
 * a pack run another way (or a config with only blanks as reason) must fail closed too.
 */
export function readExemptions(policy: string, config: { exemptions?: unknown }): Exemption[] {
  const raw = config.exemptions;
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new Error(`${policy}.exemptions: must be a list of { resource, reason }`);
  return raw.map((e: unknown, i) => {
    const entry = (e ?? {}) as Record<string, unknown>;
    const unknownKeys = Object.keys(entry).filter((k) => k !== "resource" && k !== "reason");
    if (unknownKeys.length > 0) throw new Error(`${policy}.exemptions[${i}]: ${unknownKeys.length} unknown field(s); allowed: resource, reason`);
    if (typeof entry.resource !== "string" || entry.resource.trim() === "") throw new Error(`${policy}.exemptions[${i}].resource: required, the URN, Pulumi name or Docker name (or a * glob) of the exempted resource`);
    if (typeof entry.reason !== "string" || entry.reason.trim().length < MIN_REASON_LENGTH) {
      throw new Error(`${policy}.exemptions[${i}].reason: required, at least ${MIN_REASON_LENGTH} characters saying why ${entry.resource} may break this rule`);
    }
    return { resource: entry.resource, reason: entry.reason.trim() };
  });
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** The exemption covering this resource, if any. */
export function exemptionFor(exemptions: readonly Exemption[], ids: { urn: string; name: string; dockerName?: string }): Exemption | undefined {
  const candidates = [ids.urn, ids.name, ...(ids.dockerName ? [ids.dockerName] : [])];
  return exemptions.find((e) => {
    const re = globToRegExp(e.resource);
    return candidates.some((c) => re.test(c));
  });
}
