/**
 * The program `pulumi up` runs (see Pulumi.yaml): one OpenClawPlatform from the stack's
 * `octw:platform` config object (stacks/Pulumi.<stack>.yaml). All validation happens in the
 * component: a bad config fails the preview with the offending field named, before anything
 * is created.
 */
import * as pulumi from "@pulumi/pulumi";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "@octw/pulumi";
import { resolveEnvReferences } from "./resolve-env.js";

const config = new pulumi.Config("octw");
const platformConfig = resolveEnvReferences(config.requireObject<OpenClawPlatformArgs>("platform"), process.env, "octw:platform");
// Secret config values are read as secrets so they stay encrypted in state and outputs.
const adminPassword = config.getSecret("auditAdminPassword");
const masterKey = config.getSecret("masterKey");

const platform = new OpenClawPlatform(pulumi.getStack(), {
  ...platformConfig,
  audit: {
    ...platformConfig.audit,
    ...(adminPassword ? { adminPassword } : {}),
    ...(masterKey ? { masterKey } : {}),
  },
});

export const tenants = platform.tenantSummary;
export const auditWriter = platform.audit.writer;
export const auditReaders = platform.auditReaders;
