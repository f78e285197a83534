import { createHash } from "node:crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { RoleScopesSchema, USER_HEADER, edgeJwtArgsSchema, parseEdgeConfig, type EdgeConfigInput } from "@octw/contracts";
import { z } from "zod";
import { labelList, nodeServiceArgs, volumeInitArgs, REPLACE_ON_CHANGES } from "../planners/container-hardening.js";
import { afterSuccessOf, inputString, namePrefixSchema } from "./common.js";
import { auditCaCertificateArg, withAuditCa } from "./audit-ca.js";
import { imageProblem } from "../planners/image-pinning.js";
import { idpCaCertificateSchema } from "../planners/ca-certificate.js";
import { OPENCLAW_PORT } from "../planners/openclaw-config.js";
import { OctwConfigError, parseOrThrow } from "../validation.js";

/** The edge image's own UID:GID (images/edge). */
export const EDGE_UID = 10002;
export const EDGE_PORT = 8443;
const STATE_DIR = "/var/lib/octw-edge";
const CONFIG_PATH = `${STATE_DIR}/config/config.json`;
const AUDIT_URL_PATH = `${STATE_DIR}/secrets/audit-db-url`;
const OIDC_SESSION_KEY_PATH = `${STATE_DIR}/secrets/oidc-session-key`;
const OIDC_CLIENT_SECRET_PATH = `${STATE_DIR}/secrets/oidc-client-secret`;
const OIDC_IDP_CA_PATH = `${STATE_DIR}/config/oidc-idp-ca.pem`;
const WAKER_TOKEN_PATH = `${STATE_DIR}/secrets/waker-token`;

/** Suspend idle tenants and wake them on request, through the waker (`Waker` component). */
const edgeWakeArgsSchema = z
  .strictObject({
    wakerUrl: z.url({ protocol: /^http$/ }).meta({ description: "The waker's URL on the control network (`Waker.url`)." }),
    token: inputString.meta({ description: "The waker's bearer token (`Waker.token`). Secret; delivered as a 0400 file." }),
    tenants: z
      .record(z.string(), z.strictObject({ pauseAfterS: z.number().int().optional(), stopAfterS: z.number().int().optional() }))
      .meta({ description: "Suspendable tenants and their idle thresholds; an unlisted tenant is always on." }),
  })
  .meta({ id: "EdgeWakeArgs", description: "Suspend idle tenants and wake them on request, through the waker (`Waker` component)." });
export type EdgeWakeArgs = z.input<typeof edgeWakeArgsSchema>;

/**
 * People sign in with the organization's IdP. Field by field the edge's own schema checks the
 * rendered section again (renderEdgeConfig); here the shape and the secrets.
 */
const edgeOidcArgsSchema = z
  .strictObject({
    issuer: z.string().meta({ description: "Issuer identifier (https); the edge discovers the rest." }),
    clientId: z.string(),
    clientSecret: inputString.optional().meta({ description: "Secret: delivered as a 0400 file. Absent: a public client (PKCE only)." }),
    sessionKey: z
      .custom<pulumi.Input<string>>((v) => (typeof v === "string" && v.length >= 32) || pulumi.Output.isInstance(v), "must be a secret of at least 32 characters (or a pulumi Output<string>)")
      .meta({ description: "Secret, at least 32 characters of random: seals the session cookies (every edge of the platform shares it)." }),
    tenants: z.record(z.string(), z.record(z.string(), z.array(z.string()))).meta({ description: "tenant id → role → IdP groups." }),
    groupsClaim: z.string().optional().meta({ default: "groups" }),
    scopes: z.array(z.string()).optional().meta({ defaultText: '["openid", "profile", "email", "groups", "offline_access"]' }),
    prompt: z.enum(["consent", "login", "select_account"]).optional(),
    sessionMaxSec: z.number().optional().meta({ default: 28800 }),
    recheckSec: z.number().optional().meta({ default: 300 }),
    idpHosts: z
      .array(z.strictObject({ host: z.string().regex(/^[a-z0-9.-]+$/, "a lower-case DNS name"), ip: z.ipv4() }))
      .optional()
      .meta({
        description:
          "Host entries for the IdP: the edge's DNS is Docker's embedded resolver only (it never\nforwards), so an IdP outside the engine is reached by a fixed address.",
        defaultText: "none",
      }),
    idpCaCertificate: idpCaCertificateSchema.optional().meta({
      description:
        "PEM certificate(s) of the CA that signed the IdP's TLS certificate, for an IdP behind the\norganization's own CA: added to the edge's trusted roots (NODE_EXTRA_CA_CERTS), besides\nthe public ones. Not secret. A change replaces the edge container (Node reads it at start).",
      defaultText: "the public roots only",
    }),
  })
  .meta({ id: "EdgeOidcArgs", description: 'People sign in with the organization\'s IdP (packages/edge, "Browser sign-in").' });
export type EdgeOidcArgs = z.input<typeof edgeOidcArgsSchema>;

/** Edge's args: the one declaration of their shape, validation and documentation. */
export const edgeArgsSchema = z.strictObject({
  image: z.string().meta({ description: "The edge image (`images/edge`), pinned." }),
  allowUnpinnedImage: z.boolean().optional().meta({ description: "Accept a tag-only image.", default: false }),
  ingressNetworkName: inputString.meta({ description: "Non-internal network that carries the published port." }),
  controlNetworkName: inputString.meta({ description: "The control network, where the audit Postgres is." }),
  auditConnectionUrl: inputString.meta({ description: "URL of the edge's own audit role (`AuditStore.services.edge`: appends `edge.*` decisions only). Secret; a 0400 file." }),
  auditCaCertificate: auditCaCertificateArg,
  hostPort: z.number().int().min(1).max(65535).optional().meta({ description: "Host port the edge is published on.", default: 8443 }),
  hostIp: z.ipv4().optional().meta({ description: "Host address the port binds to.", default: "127.0.0.1" }),
  hostDomain: z
    .string()
    .optional()
    .meta({ description: "`<tenant>.<hostDomain>` routes to that tenant.", defaultText: "host routing off; path routing (`/t/<tenant>/`) only" }),
  jwt: edgeJwtArgsSchema,
  roles: RoleScopesSchema.optional().meta({ description: "Role → OpenClaw operator scopes.", defaultText: "viewer: read; member: read, write; admin: read, write, admin, approvals, pairing" }),
  oidc: edgeOidcArgsSchema.optional().meta({ description: "Browser sign-in with the organization's IdP (OIDC). Needs `hostDomain`.", defaultText: "off: bearer tokens only" }),
  namePrefix: namePrefixSchema.optional().meta({
    description:
      "Docker name prefix; the edge reaches tenant `t` at `<prefix>-<t>-gateway`, a name that only\nresolves on the tenant networks the edge is attached to.",
    default: "octw",
  }),
  memoryMb: z.number().int().min(128).max(65_536).optional().meta({ default: 512 }),
  cpus: z
    .number()
    .min(0.5)
    .max(64)
    .optional()
    .meta({
      description:
        "The container's CPU limit. The edge runs one worker process per CPU of it (rounded up;\nits config's `listen.workers` is \"auto\"), so 2 or more spreads requests over that many\ncores. Each worker takes about 60 MiB: raise memoryMb with it beyond 4.",
      default: 1,
    }),
  wake: edgeWakeArgsSchema.optional().meta({ description: "Idle suspend and wake on request.", defaultText: "off: every tenant is always on" }),
  hostedHere: z
    .array(z.string())
    .optional()
    .meta({
      description:
        "The tenants this host holds, when the platform has more than one host: this edge serves\nonly them; a request for any other tenant is answered 421 Misdirected Request (with that\ntenant's own token, recorded in its trail) or 403, never forwarded.",
      defaultText: "absent (one host): every tenant whose gateway name resolves",
    }),
});
export type EdgeArgs = z.input<typeof edgeArgsSchema>;

/** The edge's config file (not secret), validated with the edge's own schema. */
export function renderEdgeConfig(args: EdgeArgs): string {
  const prefix = args.namePrefix ?? "octw";
  // `upstreamTemplate`: tenant t is reached at <prefix>-t-gateway, a name that resolves only on the
  // tenant networks the edge is attached to, so the edge's config never lists tenants.
  const config: EdgeConfigInput & { routing: { upstreamTemplate: string } } = {
    listen: { host: "0.0.0.0", port: EDGE_PORT, publicScheme: "https" },
    routing: {
      ...(args.hostDomain ? { hostDomain: args.hostDomain } : {}),
      pathRouting: !args.hostDomain, // path routing shares one origin between tenants: only when there is no host domain
      upstreamTemplate: `http://${prefix}-{tenant}-gateway:${OPENCLAW_PORT}`,
      // present even when empty: a host without tenants serves none
      ...(args.hostedHere !== undefined ? { hostedHere: [...args.hostedHere].sort() } : {}),
    },
    tenants: [],
    jwt: {
      issuer: args.jwt.issuer,
      audience: args.jwt.audience,
      algorithms: args.jwt.algorithms,
      keys: args.jwt.jwksUrl ? { kind: "jwks-url", url: args.jwt.jwksUrl } : { kind: "static", jwks: (args.jwt.jwks ?? []) as never[] },
      ...(args.jwt.tenantClaim ? { tenantClaim: args.jwt.tenantClaim } : {}),
      ...(args.jwt.roleClaim ? { roleClaim: args.jwt.roleClaim } : {}),
    },
    ...(args.roles ? { roles: args.roles } : {}),
    ...(args.oidc
      ? {
          oidc: {
            issuer: args.oidc.issuer,
            clientId: args.oidc.clientId,
            ...(args.oidc.clientSecret !== undefined ? { clientSecretFile: OIDC_CLIENT_SECRET_PATH } : {}),
            sessionKeyFile: OIDC_SESSION_KEY_PATH,
            tenants: args.oidc.tenants,
            ...(args.oidc.groupsClaim ? { groupsClaim: args.oidc.groupsClaim } : {}),
            ...(args.oidc.scopes ? { scopes: args.oidc.scopes } : {}),
            ...(args.oidc.prompt ? { prompt: args.oidc.prompt } : {}),
            ...(args.oidc.sessionMaxSec ? { sessionMaxSec: args.oidc.sessionMaxSec } : {}),
            ...(args.oidc.recheckSec ? { recheckSec: args.oidc.recheckSec } : {}),
          },
        }
      : {}),
    headers: { user: USER_HEADER },
    audit: { connectionUrlFile: AUDIT_URL_PATH, spoolPath: `${STATE_DIR}/audit.spool` },
    ...(args.wake ? { wake: { wakerUrl: args.wake.wakerUrl, tokenFile: WAKER_TOKEN_PATH, tenants: args.wake.tenants } } : {}),
  };
  parseEdgeConfig(config);
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The shared JWT edge: the only container with a published port. It joins the ingress network
 * (the port) and the control network (audit); tenant networks are joined by per-tenant
 * NetworkAttachment resources, so tenants come and go without replacing or restarting it.
 */
export class Edge extends pulumi.ComponentResource {
  declare readonly container: docker.Container;
  declare readonly containerName: pulumi.Output<string>;
  declare readonly url: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `Edge "${name}"`;
    const parsed = parseOrThrow(edgeArgsSchema, args, subject);
    const problem = imageProblem(parsed.image, parsed.allowUnpinnedImage ?? false);
    if (problem) throw new OctwConfigError(subject, [{ path: "image", message: problem }]);
    let config: string;
    try {
      config = renderEdgeConfig(args);
    } catch (err) {
      // The args were validated above with the same key and role rules; what is left is a rule
      // of the rendered config as a whole. Its problems keep their structure, prefixed so the
      // user sees they concern the config rendered from the args.
      if (!(err instanceof OctwConfigError)) throw err;
      throw new OctwConfigError(subject, err.problems.map((p) => ({ path: `(edge config) ${p.path}`, message: p.message })));
    }
    super("octw:index:Edge", name, {}, opts);
    const prefix = parsed.namePrefix ?? "octw";
    const labels = (component: string) => labelList({ "octw.component": component, "octw.managed-by": "pulumi" });
    const image = new docker.RemoteImage(`${name}-image`, { name: parsed.image, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(`${name}-state`, { name: `${prefix}-edge-state`, driver: "local", labels: labels("edge-state") }, { parent: this });
    const auditCa = withAuditCa(parsed.auditConnectionUrl, parsed.auditCaCertificate, STATE_DIR);
    // Delivers the config and the audit URL into the edge's volume (see volumeInitArgs).
    const init = new docker.Container(
      `${name}-state-init`,
      {
        name: `${prefix}-edge-state-init`,
        image: image.imageId,
        ...volumeInitArgs<pulumi.Input<string>>({
          uid: EDGE_UID,
          gid: EDGE_UID,
          volumeName: volume.name,
          // The secrets first: the edge re-reads its config as soon as it changes, and the
          // config names them.
          files: [
            { path: "secrets/audit-db-url", content: pulumi.secret(auditCa.url) },
            ...auditCa.files,
            ...(args.oidc ? [{ path: "secrets/oidc-session-key", content: pulumi.secret(args.oidc.sessionKey) }] : []),
            ...(args.oidc?.clientSecret !== undefined ? [{ path: "secrets/oidc-client-secret", content: pulumi.secret(args.oidc.clientSecret) }] : []),
            ...(parsed.wake ? [{ path: "secrets/waker-token", content: pulumi.secret(parsed.wake.token) }] : []),
            ...(args.oidc?.idpCaCertificate !== undefined ? [{ path: "config/oidc-idp-ca.pem", content: args.oidc.idpCaCertificate }] : []),
            { path: "config/config.json", content: config },
          ],
        }),
        labels: labels("edge-state-init"),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    const hostPort = parsed.hostPort ?? EDGE_PORT;
    this.container = new docker.Container(
      `${name}-edge`,
      {
        name: `${prefix}-edge`,
        image: image.imageId,
        hostname: `${prefix}-edge`,
        // nofile stays under the engine's usual hard limit (20000 on these hosts): above it the container cannot start.
        ...nodeServiceArgs({
          uid: EDGE_UID,
          limits: { memoryMb: parsed.memoryMb ?? 512, cpus: parsed.cpus ?? 1, nproc: 256, nofile: 16_384 },
          tmpSizeMb: 128,
          volumeName: volume.name,
          stateDir: STATE_DIR,
          configEnv: "OCTW_EDGE_CONFIG",
          configPath: CONFIG_PATH,
          healthcheckEntry: "/opt/octw-edge/packages/edge/src/main.ts",
          // The hash makes a new CA replace the container: Node reads the file only at start.
          ...(args.oidc?.idpCaCertificate !== undefined
            ? { extraEnvs: [`NODE_EXTRA_CA_CERTS=${OIDC_IDP_CA_PATH}`, `OCTW_EDGE_IDP_CA_SHA256=${createHash("sha256").update(args.oidc.idpCaCertificate).digest("hex")}`] }
            : {}),
        }),
        waitTimeout: afterSuccessOf(init, `${name}: state-init`, 120),
        networksAdvanced: [{ name: parsed.ingressNetworkName }, { name: parsed.controlNetworkName }],
        ports: [{ internal: EDGE_PORT, external: hostPort, ip: parsed.hostIp ?? "127.0.0.1", protocol: "tcp" }],
        // Container names (tenant gateways) still resolve through Docker's embedded DNS; lookups of
        // names of tenants that do not exist are not forwarded to the host's resolvers.
        dns: ["127.0.0.1"],
        ...(args.oidc?.idpHosts?.length ? { hosts: args.oidc.idpHosts } : {}),
        labels: labels("edge"),
      },
      { parent: this, deleteBeforeReplace: true, dependsOn: [init], replaceOnChanges: REPLACE_ON_CHANGES },
    );
    this.containerName = this.container.name;
    // TLS ends in front of the edge (listen.publicScheme https); the published port speaks HTTP.
    this.url = pulumi.output(`http://${parsed.hostIp ?? "127.0.0.1"}:${hostPort}`);
    this.registerOutputs({ containerName: this.containerName, url: this.url });
  }
}
