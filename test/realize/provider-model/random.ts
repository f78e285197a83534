// @pulumi/random (terraform-provider-random): every argument of every resource is ForceNew
// (internal/provider/resource_password.go, resource_string.go, resource_id.go, resource_bytes.go,
// resource_integer.go: RequiresReplace plan modifiers on all attributes, keepers included).
// Its state is the config plus the generated result, which a second run keeps.
import type { ResourceRules } from "./diff";

const SRC = "hashicorp/terraform-provider-random internal/provider/resource_*.go: every attribute RequiresReplace";

export function randomRules(type: string, inputs: Record<string, unknown>): ResourceRules {
  return { type, fields: Object.fromEntries(Object.keys(inputs).map((k) => [k, { forceNew: true, source: SRC }])) };
}
