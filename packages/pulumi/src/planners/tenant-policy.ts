/**
 * A tenant's whole policy, validated once: presets + the tenant's own document, merged, turned
 * into what is enforced, and its `inference` section checked against the router's schema and
 * against the egress allowlist. Pure; every problem names its field and never quotes the
 * tenant's input (a policy is attacker input, and its errors end up in preview output).
 */
import { inferencePolicySchemaWith, type ParsedInferencePolicy } from "@octw/contracts";
import { OctwConfigError, issueProblem } from "../validation.js";
import {
  POLICY_PRESETS,
  hostPatternMatches,
  type PolicyPresetName,
  mergePolicyDocuments,
  parsePolicyDocument,
  planEnforcement,
  type EnforcedSandboxPolicy,
  type UnenforceableFeature,
} from "@octw/contracts";

export interface TenantPolicyInput {
  readonly presets: readonly PolicyPresetName[];
  /** One document (object or YAML text), or a list of fragments merged in order (a base policy and presets, as NemoClaw composes them). */
  readonly policy?: unknown;
  readonly allowUnenforced?: readonly UnenforceableFeature[];
  /** TEST ONLY (OpenClawPlatform `inferenceRouter.insecureProvidersForTests`). */
  readonly insecureProvidersForTests?: readonly string[];
  /** The platform's own networks (address pool, egress, control, ingress): never an inference provider. */
  readonly platformNetworks?: readonly string[];
}

export interface TenantPolicyPlan {
  readonly enforced: EnforcedSandboxPolicy;
  readonly inference?: ParsedInferencePolicy;
}

/**
 * Validates and plans a tenant's policy. Throws one {@link OctwConfigError} whose paths start
 * with `pathPrefix` (e.g. `tenants[2].policy`).
 */
export function planTenantPolicy(input: TenantPolicyInput, subject: string, pathPrefix = "policy"): TenantPolicyPlan {
  const presetDocs = input.presets.map((p, i) => parsePolicyDocument(POLICY_PRESETS[p], subject, `presets[${i}]`));
  // A list is NemoClaw's composition: a base policy, then preset fragments, merged in order.
  const own =
    input.policy === undefined
      ? []
      : Array.isArray(input.policy)
        ? input.policy.map((doc, i) => parsePolicyDocument(doc, subject, `${pathPrefix}[${i}]`))
        : [parsePolicyDocument(input.policy, subject, pathPrefix)];
  let merged;
  try {
    merged = mergePolicyDocuments([...presetDocs, ...own], subject);
  } catch (err) {
    // mergePolicyDocuments names fields relative to "policy".
    if (!(err instanceof OctwConfigError)) throw err;
    throw new OctwConfigError(subject, err.problems.map((p) => ({ path: p.path.replace(/^policy/, pathPrefix), message: p.message })));
  }
  // The tenant's egress proxy intercepts endpoints with REST rules with the tenant's own CA
  // (SandboxPolicy, EgressCa), so `protocol: rest` method/path rules are enforced; and it puts the
  // tenant's secrets into bound endpoints' request headers (EgressCredentials, squid-credentials.ts).
  const enforced = planEnforcement(merged, input.allowUnenforced ?? [], subject, pathPrefix, { l7Rest: true, credentials: true });
  if (merged.inference === undefined) return { enforced };

  const at = `${pathPrefix}.inference`;
  const schema = inferencePolicySchemaWith(input.insecureProvidersForTests, input.platformNetworks);
  const parsed = schema.safeParse(merged.inference);
  if (!parsed.success) throw new OctwConfigError(subject, parsed.error.issues.map((i) => issueProblem(i, at, schema)));
  const inference = parsed.data;
  const problems: { path: string; message: string }[] = [];
  const firstOf = new Map<string, number>();
  inference.providers.forEach((p, i) => {
    const first = firstOf.get(p.name);
    if (first !== undefined) problems.push({ path: `${at}.providers[${i}].name`, message: `is already the name of providers[${first}]; provider names are unique` });
    else firstOf.set(p.name, i);
    // The sandbox must never reach a provider itself: that would bypass the router's allowlist, limits and audit.
    const u = new URL(p.baseUrl);
    const host = u.hostname.toLowerCase();
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    for (const rule of enforced.egress) {
      // A rule without host admits private addresses only, where no provider is (provider-destination.ts).
      if (rule.host !== undefined && hostPatternMatches(rule.host, host) && rule.ports.includes(port)) {
        problems.push({
          path: `${at}.providers[${i}].baseUrl`,
          message: `is also allowed as egress by ${pathPrefix}.network_policies.${rule.policy}: remove it from the egress allowlist; model calls go through the inference router`,
        });
      }
    }
  });
  if (problems.length) throw new OctwConfigError(subject, problems);
  return { enforced, inference };
}
