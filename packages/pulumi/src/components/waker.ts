import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { z } from "zod";
import { labelList, nodeServiceArgs, volumeInitArgs, REPLACE_ON_CHANGES } from "../planners/container-hardening.js";
import { imageProblem } from "../planners/image-pinning.js";
import { OctwConfigError, parseOrThrow } from "../validation.js";
import { afterSuccessOf, engineSocketFields, namePrefixSchema, presentInput } from "./common.js";
import { auditCaCertificateArg, auditRouteNetworkArg, controlAndAuditRoute, withAuditCa } from "./audit-ca.js";

/** The waker image's own UID:GID (images/waker). */
export const WAKER_UID = 10005;
/** UID:GID of the waker's jobs reader (packages/waker/src/jobs-sandbox.ts): not the waker's, not in the socket's group. */
export const WAKER_READER_UID = 10006;
const ENTRY = "/opt/octw-waker/packages/waker/src/main.ts";
const NODE = "/usr/local/bin/node";
const SETPRIV = "/usr/bin/setpriv";

/**
 * How the waker's process is started (a pure function: the unit tests and the image test read it).
 *
 * The waker parses tenant-written SQLite files in a child process of another uid that is not in
 * the engine socket's group (packages/waker/README.md, "Scheduled jobs"). Switching uids takes
 * CAP_SETUID and CAP_SETGID, which Docker 20.10 gives a container's process only when it starts
 * as root (to a non-root user it gives no capability at all, and no-new-privileges rules out
 * file capabilities). So the container starts as root with exactly those two, and setpriv at
 * once drops to the waker's uid, with the socket's group as its only supplementary group and the
 * two capabilities as ambient ones (they survive the exec of node as uid 10005); each reader is
 * started through setpriv again, as WAKER_READER_UID with no group and no capability. Only tini
 * (pid 1) stays root. The healthcheck runs as the waker's uid without the group or capabilities.
 */
export function wakerProcessArgs(dockerSocketGid: number) {
  const asWaker = [SETPRIV, `--reuid=${WAKER_UID}`, `--regid=${WAKER_UID}`];
  return {
    user: "0:0",
    capabilities: { drops: ["ALL"], adds: ["SETGID", "SETUID"] },
    command: [...asWaker, `--groups=${dockerSocketGid}`, "--inh-caps=+setgid,+setuid", "--ambient-caps=+setgid,+setuid", "--", NODE, "--import", "tsx", ENTRY],
    healthcheckTests: ["CMD", ...asWaker, "--clear-groups", "--", NODE, "--import", "tsx", ENTRY, "healthcheck"],
  };
}
/** Port of the waker's HTTP API on the control network (packages/waker/README.md). */
export const WAKER_PORT = 8790;
const STATE_DIR = "/var/lib/octw-waker";

/** The waker's URL on the control network, for a platform prefix (its container name resolves there). */
export function wakerUrl(namePrefix: string): string {
  return `http://${namePrefix}-waker:${WAKER_PORT}`;
}

/** The edge's `wake.tenants`: every tenant whose suspend policy is not alwaysOn, with its thresholds. */
export function suspendThresholds(tenants: readonly { id: string; suspend: "alwaysOn" | { pauseAfterS?: number; stopAfterS?: number } }[]): Record<string, { pauseAfterS?: number; stopAfterS?: number }> {
  const out: Record<string, { pauseAfterS?: number; stopAfterS?: number }> = {};
  for (const t of tenants) if (t.suspend !== "alwaysOn") out[t.id] = { ...t.suspend };
  return out;
}

/** Waker's args: the one declaration of their shape, validation and documentation. */
export const wakerArgsSchema = z.strictObject({
  image: z.string().meta({ description: "The waker image (`images/waker`), pinned." }),
  allowUnpinnedImage: z.boolean().optional().meta({ description: "Accept a tag-only image.", default: false }),
  controlNetworkName: presentInput<string>().meta({ description: "The control network: the edge reaches it there, tenants are not on it." }),
  auditConnectionUrl: presentInput<string>().meta({ description: "Audit writer URL. Secret; delivered as a 0400 file." }),
  auditCaCertificate: auditCaCertificateArg,
  auditRouteNetworkName: auditRouteNetworkArg,
  ...engineSocketFields("the waker"),
  wakeTimeoutMs: z.number().int().min(1_000).max(600_000).optional().meta({ description: "A wake that has not reached the wanted state by then answers 504.", default: 60000 }),
  namePrefix: namePrefixSchema.optional().meta({ description: "Prefix of the Docker object names; also the `octw.platform` label value the waker acts on.", default: "octw" }),
});
export type WakerArgs = z.input<typeof wakerArgsSchema>;

/**
 * Wakes and suspends this platform's tenants (gateway + egress proxy) on request of the edge,
 * so the internet-facing edge never holds the Engine API socket. Exactly two operations over
 * HTTP with a shared token (generated here; `token` is the secret the edge gets), acting only
 * on containers labelled `octw.platform=<namePrefix>`; every transition is an audit event.
 *
 * Trust: as trusted as the engine (it holds the socket). It sits on the control network only,
 * which no tenant container joins, publishes no port and has no route out. See
 * packages/waker/README.md.
 */
export class Waker extends pulumi.ComponentResource {
  declare readonly container: docker.Container;
  /** The bearer token the edge must present. Secret. */
  declare readonly token: pulumi.Output<string>;
  /** `http://<prefix>-waker:8790` — resolves on the control network. */
  declare readonly url: pulumi.Output<string>;

  constructor(name: string, args: WakerArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `Waker "${name}"`;
    const parsed = parseOrThrow(wakerArgsSchema, args, subject);
    const problem = imageProblem(parsed.image, parsed.allowUnpinnedImage ?? false);
    if (problem) throw new OctwConfigError(subject, [{ path: "image", message: problem }]);
    super("octw:index:Waker", name, {}, opts);
    const prefix = parsed.namePrefix ?? "octw";
    const socket = parsed.dockerSocketPath ?? "/var/run/docker.sock";
    const labels = (component: string) => labelList({ "octw.component": component, "octw.managed-by": "pulumi", "octw.platform": prefix });
    const image = new docker.RemoteImage(`${name}-image`, { name: parsed.image, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(`${name}-state`, { name: `${prefix}-waker-state`, driver: "local", labels: labels("waker-state") }, { parent: this });
    const token = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, { parent: this });
    const config = {
      dockerSocket: socket,
      platform: prefix,
      listen: { host: "0.0.0.0", port: WAKER_PORT },
      tokenFile: `${STATE_DIR}/secrets/waker-token`,
      wakeTimeoutMs: parsed.wakeTimeoutMs ?? 60_000,
      jobs: { reader: { uid: WAKER_READER_UID, gid: WAKER_READER_UID } },
      audit: { connectionUrlFile: `${STATE_DIR}/secrets/audit-db-url`, spoolPath: `${STATE_DIR}/audit.spool` },
    };
    const auditCa = withAuditCa(parsed.auditConnectionUrl, parsed.auditCaCertificate, STATE_DIR);
    const init = new docker.Container(
      `${name}-state-init`,
      {
        name: `${prefix}-waker-state-init`,
        image: image.imageId,
        ...volumeInitArgs<pulumi.Input<string>>({
          uid: WAKER_UID,
          gid: WAKER_UID,
          volumeName: volume.name,
          files: [
            { path: "config/config.json", content: `${JSON.stringify(config, null, 2)}\n` },
            { path: "secrets/waker-token", content: pulumi.secret(token.result) },
            { path: "secrets/audit-db-url", content: pulumi.secret(auditCa.url) },
            ...auditCa.files,
          ],
        }),
        labels: labels("waker-state-init"),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    const hostname = `${prefix}-waker`;
    const proc = wakerProcessArgs(parsed.dockerSocketGid);
    const service = nodeServiceArgs({
      uid: WAKER_UID,
      limits: { memoryMb: 256, cpus: 0.5, nproc: 128, nofile: 4096 },
      tmpSizeMb: 64,
      volumeName: volume.name,
      stateDir: STATE_DIR,
      extraMounts: [{ type: "bind", source: socket, target: socket }],
      configEnv: "OCTW_WAKER_CONFIG",
      configPath: `${STATE_DIR}/config/config.json`,
      healthcheckEntry: ENTRY,
    });
    this.container = new docker.Container(
      `${name}-waker`,
      {
        name: hostname,
        image: image.imageId,
        hostname,
        ...service,
        // Starts as root with CAP_SETUID/CAP_SETGID only; setpriv drops to the waker's uid with the
        // socket's group at once (wakerProcessArgs): the group is the waker process's, not the container's.
        user: proc.user,
        capabilities: proc.capabilities,
        command: proc.command,
        healthcheck: { ...service.healthcheck!, tests: proc.healthcheckTests },
        waitTimeout: afterSuccessOf(init, `${name}: state-init`, 120),
        // The control network (the edge is there, no tenant container is; no published port), and a
        // route to the audit store only when the store is not on it.
        networksAdvanced: controlAndAuditRoute(parsed.controlNetworkName, parsed.auditRouteNetworkName),
        dns: ["127.0.0.1"],
        labels: labels("waker"),
      },
      { parent: this, deleteBeforeReplace: true, dependsOn: [init], replaceOnChanges: REPLACE_ON_CHANGES },
    );
    this.token = pulumi.secret(token.result);
    this.url = pulumi.output(wakerUrl(prefix));
    this.registerOutputs({ token: this.token, url: this.url });
  }
}
