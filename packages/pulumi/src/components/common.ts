import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

/** Tenant ids are lowercase DNS labels: they become host names, Docker names and Postgres values. */
export const tenantIdSchema = z
  .string()
  .regex(/^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/, "must be a lowercase DNS label: a-z first, then a-z, 0-9 or inner hyphens, at most 32 characters");

/**
 * The prefix of every Docker object name. At most 21 characters because a tenant's container name
 * (`<prefix>-<tenant>-gateway`, tenant ids up to 32) is also its DNS name on the tenant network,
 * and a DNS label holds 63: 21 + 1 + 32 + 8 = 62. One schema for the platform and every component.
 */
export const namePrefixSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,20}$/, "must be lowercase: a-z first, then a-z, 0-9 or -, at most 21 characters");

/** A component input that is a string or a pulumi Output<string> (its value may be known only at deployment). */
export const inputString = z.custom<pulumi.Input<string>>((v) => typeof v === "string" || pulumi.Output.isInstance(v), "must be a string or a pulumi Output<string>");

/** A component input of type T that must be present; its value may be known only at deployment, so only presence is checked here. */
export function presentInput<T>() {
  return z.custom<pulumi.Input<T>>((v) => v !== undefined && v !== null, "is required");
}

/**
 * The engine socket's group and path, for a component whose service holds the socket (the
 * egress-audit shipper, the waker); `who` names the service in the documentation.
 */
export function engineSocketFields(who: string) {
  return {
    dockerSocketGid: z
      .number()
      .int()
      .min(1, "must be the socket's group (not root)")
      .max(2 ** 31 - 2)
      .meta({ description: `GID that owns the engine socket on the host (${who} joins that group, nothing more).` }),
    dockerSocketPath: z.string().startsWith("/", "must be an absolute path").optional().meta({ description: "The engine socket on the host.", default: "/var/run/docker.sock" }),
  };
}

/** Docker object name for a tenant's part, e.g. `octw-alpha-gateway`. */
export function dockerName(prefix: string, tenantId: string, part: string): string {
  return `${prefix}-${tenantId}-${part}`;
}

/**
 * The `waitTimeout` of a container that needs a one-shot init container to have succeeded — or a
 * failed deploy. pulumi-docker waits for an `attach` container to exit but never checks its exit
 * code (kreuzwerker v4.5.0 resource_docker_container_funcs.go, create: ContainerWait and no
 * status check); its Read records `exit_code`. Deriving the dependent's `waitTimeout` from that
 * code stops the dependent from being created after a failed init, with the init's name in the
 * error. `waitTimeout` only matters at create and does not force replacement, so a replaced init
 * shows the dependent as an update in preview, never a replacement.
 */
export function afterSuccessOf(init: { exitCode: pulumi.Output<number | undefined> }, what: string, waitTimeoutS: number): pulumi.Output<number> {
  return init.exitCode.apply((code) => {
    // The provider reports a number once the init container exited; under test mocks that do
    // not model exit codes the output is absent, and only a reported failure stops the deploy.
    if (typeof code === "number" && code !== 0) throw new Error(`${what} exited ${code}: the container that needs it is not created; see \`docker logs\` of the init container`);
    return waitTimeoutS;
  });
}
