import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { labelList, nodeServiceArgs, volumeInitArgs, REPLACE_ON_CHANGES } from "../planners/container-hardening.js";
import { afterSuccessOf, engineSocketFields, namePrefixSchema, presentInput } from "./common.js";
import { auditCaCertificateArg, auditRouteNetworkArg, controlAndAuditRoute, withAuditCa } from "./audit-ca.js";
import { imageProblem } from "../planners/image-pinning.js";
import { OctwConfigError, parseOrThrow } from "../validation.js";

/** The shipper image's own UID:GID (images/egress-audit). */
export const EGRESS_AUDIT_UID = 10004;
const STATE_DIR = "/var/lib/octw-egress-audit";

/** EgressAuditShipper's args: the one declaration of their shape, validation and documentation. */
export const egressAuditShipperArgsSchema = z.strictObject({
  image: z.string().meta({ description: "The shipper image (`images/egress-audit`), pinned." }),
  allowUnpinnedImage: z.boolean().optional().meta({ description: "Accept a tag-only image.", default: false }),
  controlNetworkName: presentInput<string>().meta({ description: "The control network (where an embedded audit store of its host is)." }),
  auditConnectionUrl: presentInput<string>().meta({
    description: "URL of the shipper's own audit role (`AuditStore.services.shipper`: appends `egress.denied` only). Secret; a 0400 file.",
  }),
  auditCaCertificate: auditCaCertificateArg,
  auditRouteNetworkName: auditRouteNetworkArg,
  ...engineSocketFields("the shipper"),
  proxyLabels: z.record(z.string(), z.string()).meta({ description: "Labels an egress proxy must carry to be followed (e.g. this platform's `octw.platform`)." }),
  windowMs: z.number().int().min(1000).max(3_600_000).optional().meta({ description: "Aggregation window: a retry loop within it is one event with a count.", default: 10000 }),
  namePrefix: namePrefixSchema.optional().meta({ default: "octw" }),
});
export type EgressAuditShipperArgs = z.input<typeof egressAuditShipperArgsSchema>;

/**
 * Turns every CONNECT the tenants' egress proxies refuse into `egress.denied` audit events
 * (aggregated per tenant, host, port and method over a window; spooled when Postgres is down),
 * which `octw approvals` lists for review. It follows proxies by label, so tenants come and go
 * without touching it.
 *
 * Trust: it reads the proxies' logs through the Engine API, and the engine socket has no
 * read-only mode — whoever can talk to it controls the host. The shipper listens on nothing,
 * has no route out (control network only) and only issues two GET calls, but it is as trusted
 * as the engine: put a filtering socket proxy in front of it, or run it on the host, in
 * production (see packages/egress-audit/README.md).
 */
export class EgressAuditShipper extends pulumi.ComponentResource {
  declare readonly container: docker.Container;

  constructor(name: string, args: EgressAuditShipperArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `EgressAuditShipper "${name}"`;
    const parsed = parseOrThrow(egressAuditShipperArgsSchema, args, subject);
    const problem = imageProblem(parsed.image, parsed.allowUnpinnedImage ?? false);
    if (problem) throw new OctwConfigError(subject, [{ path: "image", message: problem }]);
    super("octw:index:EgressAuditShipper", name, {}, opts);
    const prefix = parsed.namePrefix ?? "octw";
    const socket = parsed.dockerSocketPath ?? "/var/run/docker.sock";
    const labels = (component: string) => labelList({ "octw.component": component, "octw.managed-by": "pulumi" });
    const image = new docker.RemoteImage(`${name}-image`, { name: parsed.image, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(`${name}-state`, { name: `${prefix}-egress-audit-state`, driver: "local", labels: labels("egress-audit-state") }, { parent: this });
    const config = {
      dockerSocket: socket,
      component: "egress-proxy",
      labels: parsed.proxyLabels,
      windowMs: parsed.windowMs ?? 10_000,
      checkpointPath: `${STATE_DIR}/checkpoints.json`,
      audit: { connectionUrlFile: `${STATE_DIR}/secrets/audit-db-url`, spoolPath: `${STATE_DIR}/audit.spool` },
    };
    const auditCa = withAuditCa(parsed.auditConnectionUrl, parsed.auditCaCertificate, STATE_DIR);
    const init = new docker.Container(
      `${name}-state-init`,
      {
        name: `${prefix}-egress-audit-state-init`,
        image: image.imageId,
        ...volumeInitArgs<pulumi.Input<string>>({
          uid: EGRESS_AUDIT_UID,
          gid: EGRESS_AUDIT_UID,
          volumeName: volume.name,
          files: [
            { path: "config/config.json", content: `${JSON.stringify(config, null, 2)}\n` },
            { path: "secrets/audit-db-url", content: pulumi.secret(auditCa.url) },
            ...auditCa.files,
          ],
        }),
        labels: labels("egress-audit-state-init"),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.container = new docker.Container(
      `${name}-shipper`,
      {
        name: `${prefix}-egress-audit`,
        image: image.imageId,
        hostname: `${prefix}-egress-audit`,
        ...nodeServiceArgs({
          uid: EGRESS_AUDIT_UID,
          limits: { memoryMb: 256, cpus: 0.5, nproc: 128, nofile: 4096 },
          tmpSizeMb: 64,
          volumeName: volume.name,
          stateDir: STATE_DIR,
          extraMounts: [{ type: "bind", source: socket, target: socket }],
          configEnv: "OCTW_EGRESS_AUDIT_CONFIG",
          configPath: `${STATE_DIR}/config/config.json`,
          // its heartbeat: the deploy waits until the shipper runs
          healthcheckEntry: "/opt/octw-egress-audit/packages/egress-audit/src/main.ts",
        }),
        waitTimeout: afterSuccessOf(init, `${name}: state-init`, 120),
        // Only the socket's group, so the socket is usable without running as root.
        groupAdds: [String(parsed.dockerSocketGid)],
        // The control network (the edge is there, no tenant container is; no published port), and a
        // route to the audit store only when the store is not on it.
        networksAdvanced: controlAndAuditRoute(parsed.controlNetworkName, parsed.auditRouteNetworkName),
        dns: ["127.0.0.1"],
        labels: labels("egress-audit"),
      },
      { parent: this, deleteBeforeReplace: true, dependsOn: [init], replaceOnChanges: REPLACE_ON_CHANGES },
    );
    this.registerOutputs({});
  }
}
