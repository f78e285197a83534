/**
 * The shape every OCTW rule has, before it becomes a CrossGuard policy (policies.ts): a resource
 * rule looks at one resource's props, a stack rule at all resources with their dependencies.
 * A finding names the field and the fix; policies.ts adds the resource and the exemptions.
 */
import type { PolicyResource } from "@pulumi/policy";

export interface Finding {
  /** the offending field, as a path into the resource's inputs ("securityOpts", "mounts[0].source") */
  field: string;
  /** what is wrong, without quoting values that could be secrets */
  problem: string;
  /** what to do instead */
  fix: string;
}

export interface RuleContext {
  urn: string;
  name: string;
  type: string;
  config: Record<string, unknown>;
}

interface RuleBase {
  name: string;
  description: string;
  /** JSON schema of extra config properties (besides `exemptions`) with their defaults */
  config?: Record<string, { type: string; items?: { type: string }; default: unknown; description: string }>;
}

export interface ResourceRule extends RuleBase {
  kind: "resource";
  /** the resource types the rule looks at */
  types: readonly string[];
  check(props: Record<string, unknown>, ctx: RuleContext): Finding[];
}

export interface StackFinding extends Finding {
  resource: PolicyResource;
}

export interface StackRule extends RuleBase {
  kind: "stack";
  check(resources: readonly PolicyResource[], config: Record<string, unknown>): StackFinding[];
}

export type Rule = ResourceRule | StackRule;
