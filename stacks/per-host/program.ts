/**
 * The program of the per-host layout (index.ts runs it with platform.ts's config): one program, two
 * kinds of stack, chosen by the stack's `octw:layout`:
 *  - `shared`: the audit store and the plan's outputs (OpenClawPlatformShared); its exports are
 *    what the host stacks read;
 *  - `host`: the part of one host (`octw:host`): its networks, edge, router, waker, shipper and
 *    tenants (OpenClawPlatform with a part), joined to the shared stack by a StackReference
 *    (`octw:sharedStack`, default `<organization>/<this project>/shared`).
 * The config is a parameter so that a test realizes this very program with a platform of its
 * own engines, names and addresses (test/conformance/per-host-layout.realized.test.ts), as the
 * realized suites of the single stack deploy its stack file's config pointed at their run.
 * Stack outputs come from the return value (Pulumi calls the default export): they differ by kind of stack.
 */
import * as pulumi from "@pulumi/pulumi";
import { OpenClawPlatform, OpenClawPlatformShared, SHARED_AUDIT_OUTPUT, hostPartOf, type OpenClawPlatformArgs } from "@octw/pulumi";

/** The platform's one config, given every host's engine key and the audit admin password (platform.ts's `platformConfig`). */
export type PlatformConfigOf = (keyOf: (host: string) => pulumi.Input<string>, adminPassword: pulumi.Input<string>) => OpenClawPlatformArgs;

/** The key of an engine this stack does not manage: never used (that host's provider is declared by its own stack). */
export const NOT_HELD = "held by that host's own stack";

export function perHostProgram(platformConfig: PlatformConfigOf): Record<string, unknown> {
  const config = new pulumi.Config("octw");
  const layout = config.require("layout", { allowedValues: ["shared", "host"] });
  // The component's name is in every URN: the same in every stack (and the name of a single stack being split up, to `pulumi state move` its resources).
  const name = config.get("platformName") ?? "octw";
  if (layout === "shared") {
    const shared = new OpenClawPlatformShared(name, {
      ...platformConfig(() => NOT_HELD, config.requireSecret("auditAdminPassword")),
    });
    return {
      tenantAddresses: shared.tenantAddresses,
      // The operator's connection (`octw approvals`, `octw secrets set`).
      auditOperator: shared.audit.owner,
      [SHARED_AUDIT_OUTPUT]: shared.sharedAudit,
    };
  }
  const host = config.require("host");
  const sharedStack = config.get("sharedStack") ?? `${pulumi.getOrganization()}/${pulumi.getProject()}/shared`;
  const key = config.requireSecret("hostTlsKey");
  // the admin password comes from the shared stack (hostPartOf); the placeholder only satisfies the type before it is replaced
  const joined = hostPartOf(platformConfig((h) => (h === host ? key : NOT_HELD), NOT_HELD), host, new pulumi.StackReference(sharedStack));
  const platform = new OpenClawPlatform(name, joined.config, undefined, joined.part);
  return { tenants: platform.tenantSummary, auditReaders: platform.auditReaders, host: platform.hosts[host]!.tenants };
}
