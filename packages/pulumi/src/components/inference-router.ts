import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { INSECURE_PROVIDERS_ENV, ROUTER_PORT, parseRouterConfig, type RouterConfigInput } from "@octw/contracts";
import { z } from "zod";
import { INIT_MOUNT, labelList, nodeServiceArgs, volumeInitArgs, REPLACE_ON_CHANGES } from "../planners/container-hardening.js";
import { ServiceConfigFile } from "./service-config-file.js";
import type { EngineConnection } from "./engine-request.js";
import { afterSuccessOf, namePrefixSchema, presentInput } from "./common.js";
import { auditCaCertificateArg, withAuditCa } from "./audit-ca.js";
import { imageProblem } from "../planners/image-pinning.js";
import { OctwConfigError, parseOrThrow } from "../validation.js";

/** The router image's own UID:GID (images/inference-router). */
export const ROUTER_UID = 10003;
const STATE_DIR = "/var/lib/octw-inference-router";

/** One tenant's entry of the router config (`routerTenantEntry` of @octw/contracts). */
export type RouterTenantEntry = RouterConfigInput["tenants"][number];

/** InferenceRouter's args: the one declaration of their shape, validation and documentation. */
export const inferenceRouterArgsSchema = z.strictObject({
  image: z.string().meta({ description: "The router image (`images/inference-router`), pinned." }),
  allowUnpinnedImage: z.boolean().optional().meta({ description: "Accept a tag-only image.", default: false }),
  egressNetworkName: presentInput<string>().meta({ description: "A network with a route to the model providers (the shared egress network)." }),
  controlNetworkName: presentInput<string>().meta({ description: "The control network, where the audit Postgres is." }),
  engine: presentInput<EngineConnection>()
    .optional()
    .meta({
      description:
        "The engine the router runs on, for the tenant list written through the Engine API: its host's\nendpoint and credentials (pass the same host's `docker.Provider` as the `provider` option).",
      defaultText: "the program's own engine (DOCKER_HOST, else unix:///var/run/docker.sock)",
    }),
  databaseUrl: presentInput<string>().meta({
    description:
      "URL of the router's own audit role (`AuditStore.services.router`: reads `tenant_secrets`,\nappends `inference.call` and `secret.read`, nothing else). Secret; a 0400 file.",
  }),
  auditCaCertificate: auditCaCertificateArg,
  masterKeyring: presentInput<string>().meta({ description: "Master keyring `<version>:<base64 32 bytes>` for tenant secrets. Secret; a 0400 file." }),
  tenants: presentInput<RouterTenantEntry[]>().meta({ description: "The tenants it serves (token digests, never tokens)." }),
  namePrefix: namePrefixSchema.optional().meta({ default: "octw" }),
  memoryMb: z.number().int().min(128).max(65_536).optional().meta({ default: 512 }),
  insecureProvidersForTests: z
    .array(z.string())
    .min(1)
    .optional()
    .meta({
      description:
        "TEST ONLY: plain-http providers on these networks (the suite's fake provider). Refused unless\nthe program's environment has OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS=1; sets that variable\nin the router's container, which refuses the field otherwise.",
      defaultText: "none",
    }),
  platformNetworks: z
    .array(z.string())
    .optional()
    .meta({
      description:
        "The platform's own networks (address pool, egress, control, ingress): the router never\nconnects there for a provider, whatever a provider's name resolves to.",
      defaultText: "only the tenants' subnets it serves",
    }),
});
export type InferenceRouterArgs = z.input<typeof inferenceRouterArgsSchema>;

/** The router's config file (nothing secret in it), validated with the router's own schema. */
export function renderRouterConfig(tenants: RouterTenantEntry[], insecureProvidersForTests?: readonly string[], platformNetworks?: readonly string[]): string {
  const config: RouterConfigInput = {
    listen: { host: "0.0.0.0", port: ROUTER_PORT },
    tenants,
    // refused at connect time whatever a name resolves to: tenant networks without an inference
    // section, the control network (Postgres), the egress and ingress networks
    ...(platformNetworks?.length ? { platformNetworks: [...platformNetworks] } : {}),
    ...(insecureProvidersForTests?.length ? { allowInsecureProvidersForTests: [...insecureProvidersForTests] } : {}),
    keys: { connectionUrlFile: `${STATE_DIR}/secrets/db-url`, keyringFile: `${STATE_DIR}/secrets/master-keyring` },
    audit: { spoolPath: `${STATE_DIR}/audit.spool` },
  };
  parseRouterConfig(config);
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The shared inference router: holds the tenants' provider keys (decrypted from
 * `tenant_secrets`), enforces each tenant's provider/model allowlist and limits, and is the only
 * way a tenant's model calls leave. Joins the egress and control networks; tenant networks are
 * joined by per-tenant NetworkAttachments at offset .3.
 *
 * Its config lists the tenants (address, subnet, token digest, providers): adding a tenant
 * rewrites that file in place (a ServiceConfigFile, an update) and the running router re-reads
 * it (polled) — neither the router nor its init container is replaced or restarted.
 */
export class InferenceRouter extends pulumi.ComponentResource {
  declare readonly container: docker.Container;
  declare readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: InferenceRouterArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `InferenceRouter "${name}"`;
    const parsed = parseOrThrow(inferenceRouterArgsSchema, args, subject);
    const problem = imageProblem(parsed.image, parsed.allowUnpinnedImage ?? false);
    if (problem) throw new OctwConfigError(subject, [{ path: "image", message: problem }]);
    super("octw:index:InferenceRouter", name, {}, opts);
    const prefix = parsed.namePrefix ?? "octw";
    const labels = (component: string) => labelList({ "octw.component": component, "octw.managed-by": "pulumi" });
    const image = new docker.RemoteImage(`${name}-image`, { name: parsed.image, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(`${name}-state`, { name: `${prefix}-router-state`, driver: "local", labels: labels("router-state") }, { parent: this });
    // Sorted by tenant id: the order of the platform's tenant list is not a change of the router's.
    const hatch = parsed.insecureProvidersForTests;
    const config = pulumi.output(args.tenants).apply((t) => renderRouterConfig([...t].sort((a, b) => a.id.localeCompare(b.id)), hatch, parsed.platformNetworks));
    const auditCa = withAuditCa(args.databaseUrl, parsed.auditCaCertificate, STATE_DIR);
    const init = new docker.Container(
      `${name}-state-init`,
      {
        name: `${prefix}-router-state-init`,
        image: image.imageId,
        ...volumeInitArgs<pulumi.Input<string>>({
          uid: ROUTER_UID,
          gid: ROUTER_UID,
          volumeName: volume.name,
          files: [
            // makes config/ (0700, the router's); config.json itself is a ServiceConfigFile
            { path: "config/README", content: "config.json here is written by the platform's ServiceConfigFile (the tenant list); it changes in place\n" },
            { path: "secrets/db-url", content: pulumi.secret(auditCa.url) },
            ...auditCa.files,
            { path: "secrets/master-keyring", content: pulumi.secret(args.masterKeyring) },
          ],
        }),
        labels: labels("router-state-init"),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    // The tenant list changes with every tenant added or removed: written in place through the
    // exited init container, it is an update of this one resource; the init container's inputs
    // stay the same and the running router re-reads the file.
    const tenantsFile = new ServiceConfigFile(
      `${name}-tenants`,
      { container: init.id, path: `${INIT_MOUNT}/config/config.json`, content: config, uid: ROUTER_UID, gid: ROUTER_UID, mode: 0o400, ...(args.engine !== undefined ? { engine: args.engine } : {}) },
      { parent: this, dependsOn: [init] },
    );
    this.container = new docker.Container(
      `${name}-router`,
      {
        name: `${prefix}-inference-router`,
        image: image.imageId,
        hostname: `${prefix}-inference-router`,
        ...nodeServiceArgs({
          uid: ROUTER_UID,
          limits: { memoryMb: parsed.memoryMb ?? 512, cpus: 1, nproc: 256, nofile: 16_384 },
          tmpSizeMb: 128,
          volumeName: volume.name,
          stateDir: STATE_DIR,
          configEnv: "OCTW_ROUTER_CONFIG",
          configPath: `${STATE_DIR}/config/config.json`,
          healthcheckEntry: "/opt/octw-inference-router/packages/inference-router/src/main.ts",
          ...(hatch ? { extraEnvs: [`${INSECURE_PROVIDERS_ENV}=1`] } : {}),
        }),
        waitTimeout: afterSuccessOf(init, `${name}: state-init`, 120),
        // Egress first: the router resolves and reaches the providers from there.
        networksAdvanced: [{ name: args.egressNetworkName }, { name: args.controlNetworkName }],
        labels: labels("inference-router"),
      },
      { parent: this, deleteBeforeReplace: true, dependsOn: [init, tenantsFile], replaceOnChanges: REPLACE_ON_CHANGES },
    );
    this.containerName = this.container.name;
    this.registerOutputs({ containerName: this.containerName });
  }
}
