/**
 * The OCTW rules as CrossGuard policies. Each rule is its own policy, so each has its own
 * enforcement level (`--policy-pack-config`: `{ "<rule>": { "enforcementLevel": "advisory" } }`,
 * default mandatory) and its own exemptions (exemptions.ts). Every violation message names the
 * resource, the field and the fix: `<resource>: <field> <problem>. Fix: <fix>.`
 */
import type { EnforcementLevel, Policies, PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { EXEMPTIONS_SCHEMA, exemptionFor, readExemptions } from "./exemptions.js";
import { describe, known } from "./resource-facts.js";
import { CONTAINER_RULES } from "./rules/container-rules.js";
import { imagesPinned } from "./rules/image-rules.js";
import { gatewayOwnNetwork, tenantNetworkInternal } from "./rules/network-rules.js";
import type { Finding, ResourceRule, Rule, StackRule } from "./rules/rule.js";
import { distinctTenantUids, noGeneratedSecretInEnv } from "./rules/stack-rules.js";

export const RULES: readonly Rule[] = [...CONTAINER_RULES, imagesPinned, tenantNetworkInternal, gatewayOwnNetwork, noGeneratedSecretInEnv, distinctTenantUids];

export const DEFAULT_ENFORCEMENT: EnforcementLevel = "mandatory";

export function violationMessage(resourceName: string, props: Record<string, unknown>, f: Finding): string {
  return `${describe(resourceName, props)}: ${f.field} ${f.problem}. Fix: ${f.fix}.`;
}

function configSchema(rule: Rule): ResourceValidationPolicy["configSchema"] {
  const extra = Object.fromEntries(Object.entries(rule.config ?? {}).map(([k, v]) => [k, { ...v }]));
  return { properties: { exemptions: EXEMPTIONS_SCHEMA, ...extra } };
}

function withDefaults(rule: Rule, config: Record<string, unknown>): Record<string, unknown> {
  const defaults = Object.fromEntries(Object.entries(rule.config ?? {}).map(([k, v]) => [k, v.default]));
  return { ...defaults, ...config };
}

function dockerName(props: Record<string, unknown>): string | undefined {
  const n = known(() => props.name);
  return typeof n === "string" ? n : undefined;
}

/** What every policy of the pack says of itself, from its rule. */
function policyHeader(rule: Rule) {
  return { name: rule.name, description: rule.description, enforcementLevel: DEFAULT_ENFORCEMENT, configSchema: configSchema(rule) };
}

function resourcePolicy(rule: ResourceRule): ResourceValidationPolicy {
  return {
    ...policyHeader(rule),
    validateResource: (args, report: ReportViolation) => {
      if (!rule.types.includes(args.type)) return;
      const config = withDefaults(rule, args.getConfig<Record<string, unknown>>());
      const exemptions = readExemptions(rule.name, config);
      const findings = rule.check(args.props, { urn: args.urn, name: args.name, type: args.type, config });
      if (findings.length === 0) return;
      if (exemptionFor(exemptions, { urn: args.urn, name: args.name, dockerName: dockerName(args.props) })) return;
      for (const f of findings) report(violationMessage(args.name, args.props, f), args.urn);
    },
  };
}

function stackPolicy(rule: StackRule): StackValidationPolicy {
  return {
    ...policyHeader(rule),
    validateStack: (args, report: ReportViolation) => {
      const config = withDefaults(rule, args.getConfig<Record<string, unknown>>());
      const exemptions = readExemptions(rule.name, config);
      for (const f of rule.check(args.resources, config)) {
        const r: PolicyResource = f.resource;
        if (exemptionFor(exemptions, { urn: r.urn, name: r.name, dockerName: dockerName(r.props) })) continue;
        report(violationMessage(r.name, r.props, f), r.urn);
      }
    },
  };
}

export const policies: Policies = RULES.map((r) => (r.kind === "resource" ? resourcePolicy(r) : stackPolicy(r)));
