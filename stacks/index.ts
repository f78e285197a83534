/**
 * The program `pulumi up` runs (see Pulumi.yaml): one OpenClawPlatform from the stack's
 * `octw:platform` config object (stacks/Pulumi.<stack>.yaml). All validation happens in the
 * component: a bad config fails the preview with the offending field named, before anything
 * is created.
 */
import * as pulumi from "@pulumi/pulumi";
import { OctwConfigError, OpenClawPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { resolveOperatorReferences, scrubResolvedValues } from "./resolve-env.js";

const config = new pulumi.Config("octw");
// `env:`/`json-file:` are resolved only in the operator fields that need them, never in tenants[].
const { config: platformConfig, resolvedValues } = resolveOperatorReferences(config.requireObject<OpenClawPlatformArgs>("platform"), process.env, "octw:platform");
// Secret config values are read as secrets so they stay encrypted in state and outputs.
const adminPassword = config.getSecret("auditAdminPassword");
const masterKey = config.getSecret("masterKey");

/** Validation errors go to preview output and CI logs: no value from the environment may ride along. */
function scrubbed(err: unknown): unknown {
  if (err instanceof OctwConfigError) {
    return new OctwConfigError(scrubResolvedValues(err.subject, resolvedValues), err.problems.map((p) => ({ path: p.path, message: scrubResolvedValues(p.message, resolvedValues) })));
  }
  if (err instanceof Error) {
    const clean = new Error(scrubResolvedValues(err.message, resolvedValues));
    clean.name = err.name;
    return clean;
  }
  return new Error(scrubResolvedValues(String(err), resolvedValues));
}

let platform: OpenClawPlatform;
try {
  platform = new OpenClawPlatform(pulumi.getStack(), {
    ...platformConfig,
    audit: {
      ...platformConfig.audit,
      ...(adminPassword ? { adminPassword } : {}),
      ...(masterKey ? { masterKey } : {}),
    },
  });
} catch (err) {
  throw scrubbed(err);
}

export const tenants = platform.tenantSummary;
// The operator's connection (`octw approvals`, `octw secrets set`); each service gets only its own role.
export const auditOperator = platform.audit.owner;
export const auditReaders = platform.auditReaders;
