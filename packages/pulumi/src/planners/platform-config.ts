/**
 * The platform config: one zod schema for N tenants, and the pure planner that turns it into
 * every tenant's slot, subnet, addresses, UIDs and limits — validated as a whole before a
 * single resource is declared.
 */
import { isIP } from "node:net";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { namePrefixSchema, tenantIdSchema } from "../components/common.js";
import { imageProblem } from "./image-pinning.js";
import { idpCaCertificateSchema } from "./ca-certificate.js";
import {
  DEFAULT_UID_BASE,
  UIDS_PER_SLOT,
  cidrsOverlap,
  derivedSlot,
  formatCidr,
  formatIpv4,
  parseIpv4Cidr,
  slotCapacity,
  tenantAddressPlan,
  tenantIdentityPlan,
  type TenantAddressPlan,
  type TenantIdentityPlan,
} from "./network-plan.js";
import { MIN_UID_BASE, SERVICE_IDS, platformPrincipals, sharedIdentities, socketGroupProblem, tenantIdRange } from "./identity-plan.js";
import { DEFAULT_ROLE_SCOPES, POLICY_PRESET_NAMES, RoleScopesSchema, checkOidcAgainstEdge, oidcConfigSchema, UNENFORCEABLE_FEATURES, edgeJwtArgsSchema, type PolicyPresetName, type SandboxPolicyDocument, type UnenforceableFeature } from "@octw/contracts";
import { planTenantPolicy, type TenantPolicyPlan } from "./tenant-policy.js";
import { capacitySchema, resolveSuspendPolicy, suspendPolicySchema, type SuspendPolicy } from "./suspend-policy.js";
import { heartbeatEverySchema, resolveHeartbeatEveryS } from "./heartbeat.js";
import { DEFAULT_GATEWAY_LIMITS, gatewayLimitsSchema } from "./container-hardening.js";
import { OctwConfigError, issueProblem } from "../validation.js";
import { hostNameSchema, hostSchema, planHosts, type HostPlan } from "./hosts.js";
import { publishAddressProblem, serverCertificateProblems, serverKeyProblem } from "./audit-tls.js";
import { planPlacement, type Placement } from "./placement.js";
import { upstreamCaCertsSchema } from "./egress-interception.js";

// Each shape is declared once, here, as a zod schema: the TypeScript types below are its
// z.input/z.output, and the documentation of every field is its metadata (`description`;
// `default` for a JSON value the field takes when absent, `defaultText` for one said in words),
// which the component schema generator (provider/generate-schema.ts) reads.

const presetsSchema = z.array(z.enum(POLICY_PRESET_NAMES as [PolicyPresetName, ...PolicyPresetName[]]));
const secretInput = z.custom<pulumi.Input<string>>((v) => typeof v === "string" || (typeof v === "object" && v !== null), "must be a string or a pulumi Output<string>");
const cidr = z.string().refine((c) => parseIpv4Cidr(c) !== undefined, "must be an IPv4 CIDR without host bits, e.g. 10.64.0.0/10");
/** A service that holds the engine socket (the shipper, the waker): the socket's group and path, and its own settings. */
const engineSocketHolder = <S extends z.ZodRawShape>(own: S) =>
  z.strictObject({
    dockerSocketGid: z.number().int().min(1, "must be the engine socket's group (not root)").max(2 ** 31 - 2),
    dockerSocketPath: z.string().startsWith("/").optional(),
    ...own,
  });

const tenantLimitsSchema = z
  .strictObject({
    memoryMb: gatewayLimitsSchema.shape.memoryMb.meta({ default: DEFAULT_GATEWAY_LIMITS.memoryMb }),
    cpus: gatewayLimitsSchema.shape.cpus.meta({ default: DEFAULT_GATEWAY_LIMITS.cpus }),
    nproc: gatewayLimitsSchema.shape.nproc.meta({ default: DEFAULT_GATEWAY_LIMITS.nproc }),
    nofile: gatewayLimitsSchema.shape.nofile.meta({ default: DEFAULT_GATEWAY_LIMITS.nofile }),
  })
  .meta({ id: "TenantLimitsConfig" });

/** A tenant's policy document(s): checked by the policy planner (planTenantPolicy), which names the field. */
type TenantPolicyInput = SandboxPolicyDocument | string | readonly (SandboxPolicyDocument | string)[];

const tenantSchema = z
  .strictObject({
    id: tenantIdSchema.meta({ description: "Lowercase DNS label, unique in the platform." }),
    slot: z
      .number()
      .int()
      .min(1, "must be >= 1 (slot 0 is reserved)")
      .optional()
      .meta({ description: "Stable slot in the address pool; decides the tenant's subnet and UIDs.", defaultText: "derived from a hash of `id` (collisions are reported; then set one explicitly)" }),
    presets: presetsSchema.optional().meta({ description: "Policy presets merged before `policy`.", defaultText: '["restricted"]' }),
    policy: z
      .custom<TenantPolicyInput>()
      .optional()
      .meta({
        description: "The tenant's own policy (object or YAML text), or a list of them merged in order — e.g. a\nNemoClaw base policy followed by NemoClaw preset files, as NemoClaw composes them.",
        defaultText: "none: only the presets",
      }),
    allowUnenforced: z
      .array(z.enum(UNENFORCEABLE_FEATURES as [UnenforceableFeature, ...UnenforceableFeature[]]))
      .optional()
      .meta({ description: "Unenforceable policy features this tenant accepts as reported-not-enforced.", defaultText: "[]" }),
    limits: tenantLimitsSchema.optional().meta({ defaultText: "the platform's `defaults.limits`" }),
    image: z.string().optional().meta({ description: "OpenClaw image override for this tenant (pinned).", defaultText: "`images.openclaw`" }),
    runtime: z
      .string()
      .regex(/^[a-z][a-z0-9_.-]{0,62}$/, "must be an OCI runtime name such as runsc")
      .optional()
      .meta({ description: "OCI runtime, e.g. `runsc`.", defaultText: "the engine's default" }),
    suspend: suspendPolicySchema.optional().meta({ description: 'When this tenant is suspended while idle: `"alwaysOn"` or `{ pauseAfterS, stopAfterS }`.', defaultText: "the platform's `suspend`" }),
    heartbeatEveryS: heartbeatEverySchema.optional().meta({
      description: "This tenant's OpenClaw heartbeat interval in seconds (`agents.defaults.heartbeat.every`); 0 turns the\nrecurring heartbeat off. Each tick wakes a suspended tenant.",
      defaultText: "the platform's `heartbeatEveryS`",
    }),
    host: hostNameSchema.optional().meta({ description: "The host this tenant lives on (a pin; `hosts[].name`). A tenant moves only when this changes.", defaultText: "the first of `hosts` (see packages/pulumi/src/planners/placement.ts)" }),
  })
  .meta({ id: "TenantConfig" });

const imagesSchema = z
  .strictObject({
    openclaw: z.string().meta({ description: "OpenClaw gateway image, pinned (`repo@sha256:…` or local `sha256:…`)." }),
    egressProxy: z.string().meta({ description: "Squid egress proxy image, pinned." }),
    postgres: z.string().optional().meta({ description: "Postgres image for the embedded AuditStore, pinned. Required when `audit.mode` is `embedded`." }),
    edge: z.string().optional().meta({ description: "The edge image (`images/edge`), pinned. Required when `edge` is set." }),
    inferenceRouter: z.string().optional().meta({ description: "The inference router image (`images/inference-router`), pinned. Required when a tenant's policy has `inference`." }),
    egressAudit: z.string().optional().meta({ description: "The egress-audit shipper image (`images/egress-audit`), pinned. Required when `egressAudit` is set." }),
    waker: z.string().optional().meta({ description: "The waker image (`images/waker`), pinned. Required when a tenant is suspendable." }),
    allowUnpinned: z.boolean().optional().meta({ description: "Accept tag-only images (development only).", default: false }),
  })
  .meta({ id: "PlatformImagesConfig" });

const auditSchema = z
  .strictObject({
    mode: z.enum(["embedded", "external"]),
    host: z.string().min(1).optional().meta({
      description:
        "External server (mode `external`). An IP address when the platform runs an edge, waker or\negress-audit shipper: they resolve only container names (their DNS is Docker's embedded one\nwith no upstream), so a name would not resolve for them.",
    }),
    port: z.number().int().min(1).max(65535).optional().meta({ default: 5432 }),
    adminUser: z.string().min(1).optional(),
    adminPassword: secretInput.optional(),
    sslMode: z.enum(["disable", "require", "verify-ca", "verify-full"]).optional().meta({ default: "require" }),
    caCertificate: z
      .string()
      .includes("-----BEGIN CERTIFICATE-----", { message: "must be a PEM certificate (-----BEGIN CERTIFICATE-----)" })
      .optional()
      .meta({
        description:
          "PEM of the CA that issued the server's certificate (mode `external` with sslMode `verify-ca`\nor `verify-full`, or mode `embedded` with `publish`). The platform's services verify the\nserver against it (a file in each service's state volume), not against Node's public roots.\nThe @pulumi/postgresql provider uses libpq's own trust: set `PGSSLROOTCERT` where `pulumi up` runs.",
        defaultText: "Node's public roots",
      }),
    databaseName: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "must be a lowercase identifier").optional().meta({ default: "octw_audit" }),
    masterKey: secretInput.optional().meta({ defaultText: "generated (RandomBytes)" }),
    publish: z
      .strictObject({
        host: hostNameSchema.optional().meta({ description: "The host the embedded store runs on (`hosts[].name`).", defaultText: "the first of `hosts`" }),
        address: z.ipv4().meta({
          description: "The address of that host the store's port is published on: one the other hosts' services\nand the machine running `pulumi up` reach (never 0.0.0.0, never loopback).",
        }),
        port: z.number().int().min(1).max(65535).optional().meta({ description: "The published host port.", default: 5432 }),
        certificate: z
          .string()
          .includes("-----BEGIN CERTIFICATE-----", { message: "must be a PEM certificate (-----BEGIN CERTIFICATE-----)" })
          .meta({ description: "PEM of the server's certificate, issued by `audit.caCertificate`, with subjectAltName IP:`address`." }),
        key: secretInput.meta({ description: "PEM of its private key (unencrypted); pass it as a Pulumi secret." }),
      })
      .optional()
      .meta({
        description:
          "Mode `embedded` on a platform of several hosts (or one remote host): the store serves TLS on\n`address:port` of its host to everything outside its control network (pg_hba `hostssl` only;\nplaintext refused), and every other host's services, the migrations, the tenant reader\nbindings and the @pulumi/postgresql provider connect there with sslmode verify-full against\n`audit.caCertificate` (the provider through `PGSSLROOTCERT` where `pulumi up` runs). The\nstore host's own services keep their plaintext connection on its internal control network.",
        defaultText: "not published: the store is reachable on its own host's control network only",
      }),
  })
  .meta({ id: "PlatformAuditConfig" });

// Field by field, the edge's own schema checks the rendered section again (renderEdgeConfig).
const oidcSchema = z
  .strictObject({
    issuer: z.url({ protocol: /^https$/, error: "must be an https: URL" }).meta({ description: "Issuer identifier (https)." }),
    clientId: z.string().min(1),
    clientSecret: secretInput.optional().meta({ description: "Secret (a Pulumi secret): the edge's client secret at the IdP. Absent: public client." }),
    sessionKey: secretInput.meta({ description: "Secret (a Pulumi secret), ≥ 32 random characters: seals the session cookies." }),
    tenantRoles: z.record(z.string(), z.record(z.string(), z.array(z.string().min(1)))).meta({
      description:
        'Per tenant: role → the IdP groups that hold it, e.g. `{ alpha: { admin: ["alpha-admins"], member: ["eng"] } }`.\nA tenant not listed lets nobody in by sign-in; a person in no listed group sees "no access".',
    }),
    groupsClaim: z.string().min(1).optional().meta({ description: "Where the groups are in the ID token (a claim or a dot path such as `realm_access.roles`).", default: "groups" }),
    scopes: z.array(z.string().min(1)).optional().meta({ defaultText: '["openid", "profile", "email", "groups", "offline_access"]' }),
    prompt: z.enum(["consent", "login", "select_account"]).optional(),
    sessionMaxS: z.number().int().min(300).max(604_800).optional().meta({ default: 28800 }),
    recheckS: z.number().int().min(30).max(3_600).optional().meta({ default: 300 }),
    idpHosts: z.array(z.strictObject({ host: z.string().min(1), ip: z.ipv4() })).optional().meta({ description: "Fixed addresses of the IdP's host names (the edge's DNS never forwards)." }),
    idpCaCertificate: idpCaCertificateSchema.optional().meta({ description: "PEM certificate(s) of the CA that signed the IdP's TLS certificate (an IdP behind the organization's own CA)." }),
  })
  .meta({ id: "PlatformOidcConfig" });

const edgeSchema = z
  .strictObject({
    hostPort: z.number().int().min(1).max(65535).optional().meta({ description: "Host port of the edge.", default: 8443 }),
    hostIp: z.ipv4().optional().meta({ description: "Host address the edge binds to.", default: "127.0.0.1" }),
    hostRouting: z.boolean().optional().meta({ description: "Route `<tenant>.<domain>` by host (besides `/t/<tenant>/` by path).", default: true }),
    cpus: z.number().min(0.5).max(64).optional().meta({ description: "The edge container's CPU limit; the edge runs one worker process per CPU of it.", default: 1 }),
    jwt: edgeJwtArgsSchema,
    roles: RoleScopesSchema.optional().meta({ defaultText: "viewer/member/admin as documented in packages/edge" }),
    oidc: oidcSchema.optional().meta({
      description: "People sign in with the organization's identity provider (OIDC, at the edge). Needs host\nrouting (each tenant its own origin). Machine clients keep using bearer tokens.",
      defaultText: "off",
    }),
  })
  .meta({ id: "PlatformEdgeConfig" });

export const platformConfigSchema = z.strictObject({
  prefix: namePrefixSchema.optional().meta({ description: "Prefix of every Docker object name (lets several platforms or test runs share an engine).", default: "octw" }),
  domain: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, "must be a lowercase DNS name")
    .optional()
    .meta({ description: "DNS domain tenants are served under (`<tenant>.<domain>`); used for allowed origins.", default: "localhost" }),
  addressPool: cidr.optional().meta({ description: "IPv4 pool that tenant /27 networks are carved from.", default: "10.64.0.0/10" }),
  egressSubnet: cidr.optional().meta({ description: "Subnet of the shared egress network.", default: "10.63.0.0/24" }),
  controlSubnet: cidr.optional().meta({ description: "Subnet of the private control network (Postgres, shared services).", default: "10.63.1.0/28" }),
  ingressSubnet: cidr.optional().meta({ description: "Subnet of the ingress network (the edge's published port).", default: "10.63.2.0/28" }),
  egressAudit: engineSocketHolder({ windowMs: z.number().int().min(1000).max(3_600_000).optional() })
    .optional()
    .meta({
      description:
        "Ship the egress proxies' denials to the audit trail (`egress.denied`, for `octw approvals`).\nThe shipper reads proxy logs through the engine socket, so it is as trusted as the engine:\nopting in means naming the socket's group.",
      defaultText: "no shipper",
    }),
  waker: engineSocketHolder({ wakeTimeoutMs: z.number().int().min(1_000).max(600_000).optional() })
    .optional()
    .meta({
      description:
        "The waker (packages/waker): wakes and suspends tenants for the edge, which keeps the idle\nclock. It holds the engine socket, so it is as trusted as the engine: required (with `edge`\nand `images.waker`) when any tenant's suspend policy is not `alwaysOn`, naming the socket's group.",
      defaultText: "no waker: every tenant must be always on",
    }),
  inferenceRouter: z
    .strictObject({
      insecureProvidersForTests: z
        .array(z.string())
        .min(1)
        .refine(() => process.env.OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS === "1", "is a test-only switch, refused unless the environment sets OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS=1")
        .optional(),
    })
    .optional()
    .meta({
      description:
        "TEST ONLY: `insecureProvidersForTests` lets tenants' inference policies and the router use\nplain-http providers on the listed networks (a test suite's fake provider). Refused unless\nthe program's environment has OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS=1.",
      defaultText: "none",
    }),
  egressProxy: z
    .strictObject({ upstreamCaCerts: upstreamCaCertsSchema.optional() })
    .optional()
    .meta({
      description:
        "The tenants' egress proxies. `upstreamCaCerts`: PEM certificates trusted, besides the\nsystem bundle, for the upstreams of intercepted (L7) endpoints, e.g. an internal API's\nprivate CA (SandboxPolicy `upstreamCaCerts`).",
      defaultText: "the system bundle only",
    }),
  edge: edgeSchema.optional().meta({ description: "The shared JWT edge. Requires `images.edge`.", defaultText: "no edge: gateways are reachable from their tenant network only" }),
  uidBase: z
    .number()
    .int()
    .min(MIN_UID_BASE, `must be >= ${MIN_UID_BASE} (ids below are the host's users and the shared services')`)
    .max(2 ** 31 - 2 ** 24)
    .optional()
    .meta({ description: "First tenant UID; a tenant's UIDs are uidBase + slot * 4 + (0..3).", default: 200000 }),
  images: imagesSchema,
  defaults: z.strictObject({ limits: tenantLimitsSchema.optional(), presets: presetsSchema.optional() }).optional().meta({ description: "Defaults applied to every tenant." }),
  suspend: suspendPolicySchema.optional().meta({
    description: 'Default suspend policy of idle tenants: `"alwaysOn"`, or `{ pauseAfterS, stopAfterS }`\n(paused: frozen, memory kept; stopped: memory freed). Tenants may override it.',
    default: "alwaysOn",
  }),
  heartbeatEveryS: heartbeatEverySchema.optional().meta({
    description:
      "Default OpenClaw heartbeat interval of tenants, in seconds (`agents.defaults.heartbeat.every` in\nopenclaw.json); 0 turns the recurring heartbeat off (event-driven turns and the tenant's own\nautomations still run). The heartbeat is a scheduled job: each tick wakes a suspended tenant\n(a cold start from stopped), and one at or below a tenant's `stopAfterS` keeps it paused —\nresident — for good (capacity counts it so). Tenants may override it.",
    defaultText:
      "not written: OpenClaw's own default (30 min; 1 h with Anthropic OAuth), so a suspend policy switch\nnever rewrites a gateway's config. Set 0 for suspendable tenants: the default heartbeat only asks\nthe agent whether anything needs attention, and recurring work belongs in automations",
  }),
  capacity: capacitySchema.optional().meta({
    description: "The host's memory budget: a config whose always-on tenants plus `maxActive` resident\nsuspendable ones (plus the reserve) do not fit is refused, naming the numbers. With `hosts`,\nthe budget of every host that states none of its own.",
    defaultText: "not checked",
  }),
  hosts: z
    .array(hostSchema)
    .min(1, "must list at least one host (or leave hosts out: the program's own engine)")
    .optional()
    .meta({
      description:
        "The Docker hosts of the platform, each one engine: per host its own shared parts (egress,\ncontrol and ingress networks, edge, inference router, waker, egress-audit shipper) and the\ntenants placed on it, every Docker resource declared with that host's `docker.Provider`.\nWith more than one host the audit store is `external`, reached with `sslMode: \"verify-full\"`,\nor `embedded` with `audit.publish` (TLS, verify-full against `audit.caCertificate`).",
      defaultText: 'one host, the engine the program runs next to (named "local"), with `capacity` as its budget',
    }),
  tenants: z.array(tenantSchema).min(1, "must list at least one tenant"),
  audit: auditSchema,
});

export type TenantLimitsConfig = z.input<typeof tenantLimitsSchema>;
export type TenantConfig = z.input<typeof tenantSchema>;
export type PlatformImagesConfig = z.input<typeof imagesSchema>;
export type PlatformAuditConfig = z.input<typeof auditSchema>;
export type PlatformEdgeConfig = z.input<typeof edgeSchema>;
export type PlatformOidcConfig = z.input<typeof oidcSchema>;
/** The platform's config as a program writes it (OpenClawPlatform's args). */
export type OpenClawPlatformConfig = z.input<typeof platformConfigSchema>;

export type ParsedPlatformConfig = z.output<typeof platformConfigSchema>;
export type ParsedTenantConfig = ParsedPlatformConfig["tenants"][number];

export interface TenantPlan {
  readonly config: ParsedTenantConfig;
  readonly addresses: TenantAddressPlan;
  readonly identity: TenantIdentityPlan;
  readonly image: string;
  readonly presets: PolicyPresetName[];
  readonly limits: Required<TenantLimitsConfig>;
  /** When the tenant is suspended while idle (its own, else the platform's, else always on). */
  readonly suspend: SuspendPolicy;
  /** OpenClaw heartbeat interval in seconds, 0 off; undefined: OpenClaw's default (see heartbeat.ts). */
  readonly heartbeatEveryS: number | undefined;
  /** The tenant's policy, validated and planned (presets + own document). */
  readonly policy: TenantPolicyPlan;
  /** The name of the host it lives on. */
  readonly host: string;
}

export interface PlatformPlan {
  readonly config: ParsedPlatformConfig;
  readonly prefix: string;
  readonly domain: string;
  readonly addressPool: string;
  readonly egressSubnet: string;
  readonly controlSubnet: string;
  readonly ingressSubnet: string;
  /** addressPool, egressSubnet, controlSubnet, ingressSubnet */
  readonly platformNetworks: readonly string[];
  /** Postgres's fixed address on the control network (offset .2). */
  readonly auditAddress: string;
  /** The host the embedded store runs on (`audit.publish.host`, else the first host); unused in mode external. */
  readonly auditHost: string;
  readonly tenants: readonly TenantPlan[];
  /** Every host (the first is the home of unpinned tenants); without `hosts`, the one default host. */
  readonly hosts: readonly HostPlan[];
  readonly placement: Placement;
}

/** A tenant gateway's limits unless the platform's `defaults.limits` or the tenant says otherwise. */
export const DEFAULT_TENANT_LIMITS: Required<TenantLimitsConfig> = DEFAULT_GATEWAY_LIMITS;

/** Validates the whole config and plans every tenant. Throws one {@link OctwConfigError} listing every problem. */
export function planPlatform(config: unknown, subject: string): PlatformPlan {
  const result = platformConfigSchema.safeParse(config);
  if (!result.success) {
    throw new OctwConfigError(subject, result.error.issues.map((i) => issueProblem(i, "", platformConfigSchema)));
  }
  const c = result.data;
  const problems: { path: string; message: string }[] = [];
  const addressPool = c.addressPool ?? "10.64.0.0/10";
  const egressSubnet = c.egressSubnet ?? "10.63.0.0/24";
  const controlSubnet = c.controlSubnet ?? "10.63.1.0/28";
  const ingressSubnet = c.ingressSubnet ?? "10.63.2.0/28";
  const pool = parseIpv4Cidr(addressPool)!;
  // Every network of the platform: never an inference provider, in whatever range it lies.
  const platformNetworks = [addressPool, egressSubnet, controlSubnet, ingressSubnet];
  const capacity = slotCapacity(pool);
  if (capacity < 2) problems.push({ path: "addressPool", message: "is too small: it must hold at least two /27s" });
  const egress = parseIpv4Cidr(egressSubnet)!;
  const control = parseIpv4Cidr(controlSubnet)!;
  if (cidrsOverlap(pool, egress)) problems.push({ path: "egressSubnet", message: "overlaps addressPool; the subnets must be disjoint" });
  if (cidrsOverlap(pool, control)) problems.push({ path: "controlSubnet", message: "overlaps addressPool; the subnets must be disjoint" });
  if (cidrsOverlap(egress, control)) problems.push({ path: "controlSubnet", message: "overlaps egressSubnet; the subnets must be disjoint" });
  const ingress = parseIpv4Cidr(ingressSubnet)!;
  for (const [other, otherName] of [[pool, "addressPool"], [egress, "egressSubnet"], [control, "controlSubnet"]] as const) {
    if (cidrsOverlap(ingress, other)) problems.push({ path: "ingressSubnet", message: `overlaps ${otherName}; the subnets must be disjoint` });
  }
  if (control.prefixLength > 29) problems.push({ path: "controlSubnet", message: "must be at least a /29" });

  const allowUnpinned = c.images.allowUnpinned ?? false;
  if (c.egressAudit !== undefined && c.images.egressAudit === undefined) problems.push({ path: "images.egressAudit", message: "is required when egressAudit is set" });
  for (const key of ["openclaw", "egressProxy", "postgres", "edge", "inferenceRouter", "egressAudit", "waker"] as const) {
    const ref = c.images[key];
    if (ref === undefined) continue;
    const problem = imageProblem(ref, allowUnpinned);
    if (problem) problems.push({ path: `images.${key}`, message: problem });
  }
  if (c.edge !== undefined && c.images.edge === undefined) problems.push({ path: "images.edge", message: "is required when edge is set" });
  if (c.edge !== undefined && !c.edge.jwt.jwks?.length && !c.edge.jwt.jwksUrl) problems.push({ path: "edge.jwt", message: "needs jwks (static public keys) or jwksUrl" });
  if (c.edge?.oidc !== undefined) {
    if (c.edge.hostRouting === false) problems.push({ path: "edge.oidc", message: "needs host routing (edge.hostRouting: true): sign-in sessions are bound to a tenant's own origin" });
    const o = c.edge.oidc;
    const ids = new Set(c.tenants.map((t) => t.id));
    for (const t of Object.keys(o.tenantRoles)) {
      if (!ids.has(t)) problems.push({ path: `edge.oidc.tenantRoles.${t}`, message: "is not a tenant of this platform" });
    }
    if (typeof o.sessionKey === "string" && o.sessionKey.length < 32) {
      problems.push({ path: "edge.oidc.sessionKey", message: "must be a secret of at least 32 characters" });
    }
    // The edge's own schema, now (before any resource exists), with the platform's field names.
    const rename: Record<string, string> = { tenants: "tenantRoles", sessionMaxSec: "sessionMaxS", recheckSec: "recheckS" };
    const r = oidcConfigSchema().safeParse({
      issuer: o.issuer, clientId: o.clientId, tenants: o.tenantRoles,
      ...(o.groupsClaim !== undefined ? { groupsClaim: o.groupsClaim } : {}),
      ...(o.scopes !== undefined ? { scopes: o.scopes } : {}),
      ...(o.prompt !== undefined ? { prompt: o.prompt } : {}),
      ...(o.sessionMaxS !== undefined ? { sessionMaxSec: o.sessionMaxS } : {}),
      ...(o.recheckS !== undefined ? { recheckSec: o.recheckS } : {}),
    });
    if (!r.success) {
      for (const i of r.error.issues) problems.push({ path: ["edge", "oidc", ...i.path.map((k, n) => (n === 0 ? (rename[String(k)] ?? String(k)) : String(k)))].join("."), message: i.message });
    } else {
      checkOidcAgainstEdge(r.data, { hostDomain: "platform", publicScheme: "https", tls: false, roles: c.edge.roles ?? DEFAULT_ROLE_SCOPES }, (path, message) =>
        problems.push({ path: ["edge", ...path.map((k, n) => (n === 1 ? (rename[String(k)] ?? String(k)) : String(k)))].join("."), message }),
      );
    }
  }
  if (c.audit.mode === "embedded" && c.images.postgres === undefined) problems.push({ path: "images.postgres", message: 'is required when audit.mode is "embedded"' });
  if (c.audit.mode === "external") {
    for (const key of ["host", "adminUser", "adminPassword"] as const) {
      if (c.audit[key] === undefined) problems.push({ path: `audit.${key}`, message: 'is required when audit.mode is "external"' });
    }
    // The edge, the waker and the shipper resolve only container names (`dns: 127.0.0.1`: a name
    // a request or a tenant chose never reaches the host's resolvers), so a server they must
    // reach by name would not resolve for them — at run time, in every audit write. Refused here.
    const byName = [c.edge && "the edge", c.waker && "the waker", c.egressAudit && "the egress-audit shipper"].filter((x): x is string => typeof x === "string");
    if (c.audit.host !== undefined && isIP(c.audit.host) === 0 && byName.length > 0) {
      problems.push({ path: "audit.host", message: `must be an IP address when the platform runs ${byName.join(", ")}: they resolve only container names (dns 127.0.0.1, so names a request or a tenant chose never reach the host's resolvers); with sslMode verify-full the server's certificate must then carry that address in its subjectAltName` });
    }
  }

  const byId = new Map<string, number>();
  const bySlot = new Map<number, number>();
  const uidBase = c.uidBase ?? DEFAULT_UID_BASE;
  const tenantIds = tenantIdRange(uidBase, pool);
  if ((Object.values(SERVICE_IDS) as number[]).some((id) => id >= tenantIds.first && id <= tenantIds.last)) {
    problems.push({ path: "uidBase", message: `gives tenants ids of shared services (${Object.values(SERVICE_IDS).join(", ")}); raise it` });
  }
  if (c.egressAudit !== undefined) {
    const problem = socketGroupProblem(c.egressAudit.dockerSocketGid, uidBase, pool);
    if (problem) problems.push({ path: "egressAudit.dockerSocketGid", message: problem });
  }
  if (c.waker !== undefined) {
    const problem = socketGroupProblem(c.waker.dockerSocketGid, uidBase, pool);
    if (problem) problems.push({ path: "waker.dockerSocketGid", message: problem });
  }
  c.hosts?.forEach((h, i) => {
    if (h.dockerSocketGid === undefined) return;
    const problem = socketGroupProblem(h.dockerSocketGid, uidBase, pool);
    if (problem) problems.push({ path: `hosts[${i}].dockerSocketGid`, message: problem });
  });
  const hosts = planHosts(c.hosts, c.capacity, problems);
  problems.push(...auditAcrossHostsProblems(c.audit, hosts));
  const tenants: (Omit<TenantPlan, "host"> & { host?: string })[] = [];
  c.tenants.forEach((t, i) => {
    const at = `tenants[${i}]`;
    if (byId.has(t.id)) problems.push({ path: `${at}.id`, message: `is already used by tenants[${byId.get(t.id)}]; tenant ids are unique` });
    byId.set(t.id, i);
    const slot = t.slot ?? (capacity >= 2 ? derivedSlot(t.id, capacity) : 1);
    if (slot >= capacity) {
      problems.push({ path: `${at}.slot`, message: `does not fit the address pool (slots 1..${capacity - 1})` });
      return;
    }
    const other = bySlot.get(slot);
    if (other !== undefined) {
      problems.push({
        path: `${at}.slot`,
        message: `${t.slot === undefined ? "(derived from the id) " : ""}is already taken by tenants[${other}]: its subnet would overlap; set a distinct explicit slot`,
      });
      return;
    }
    bySlot.set(slot, i);
    if (uidBase + (slot + 1) * UIDS_PER_SLOT > 2 ** 31 - 1) problems.push({ path: `${at}.slot`, message: "gives UIDs beyond 2^31-1; lower uidBase or the slot" });
    const image = t.image ?? c.images.openclaw;
    if (t.image !== undefined) {
      const problem = imageProblem(t.image, allowUnpinned);
      if (problem) problems.push({ path: `${at}.image`, message: problem });
    }
    const presets = t.presets ?? c.defaults?.presets ?? ["restricted"];
    let policy: TenantPolicyPlan;
    try {
      policy = planTenantPolicy(
        {
          presets, policy: t.policy, allowUnenforced: t.allowUnenforced ?? [], platformNetworks,
          ...(c.inferenceRouter?.insecureProvidersForTests ? { insecureProvidersForTests: c.inferenceRouter.insecureProvidersForTests } : {}),
        },
        subject,
        `${at}.policy`,
      );
    } catch (err) {
      if (!(err instanceof OctwConfigError)) throw err;
      // Preset problems are named relative to the tenant too.
      problems.push(...err.problems.map((p) => ({ path: p.path.startsWith("presets[") ? `${at}.${p.path}` : p.path, message: p.message })));
      return;
    }
    // Problems name the user's path (tenants[i].policy…); what is not enforced is reported per
    // tenant, so relative to it (policy…).
    const notEnforced = policy.enforced.notEnforced.map((e) => (e.startsWith(`${at}.`) ? e.slice(at.length + 1) : e));
    policy = { ...policy, enforced: { ...policy.enforced, notEnforced } };
    if (policy.inference !== undefined && c.images.inferenceRouter === undefined) {
      problems.push({ path: "images.inferenceRouter", message: `is required: ${at}.policy has an inference section` });
    }
    tenants.push({
      config: t,
      policy,
      addresses: tenantAddressPlan(pool, slot),
      identity: tenantIdentityPlan(uidBase, slot),
      image,
      presets,
      limits: { ...DEFAULT_TENANT_LIMITS, ...c.defaults?.limits, ...t.limits },
      suspend: resolveSuspendPolicy(c.suspend, t.suspend),
      heartbeatEveryS: resolveHeartbeatEveryS(c.heartbeatEveryS, t.heartbeatEveryS),
    });
  });
  // A suspend policy needs the edge (it keeps the idle clock and wakes on request) and the waker
  // (it holds the engine socket the edge must not); without them it would silently not happen.
  const suspendable = tenants.filter((t) => t.suspend !== "alwaysOn");
  if (suspendable.length > 0) {
    const why = `is required: tenant ${suspendable[0]!.config.id}'s suspend policy is not "alwaysOn"`;
    if (c.edge === undefined) problems.push({ path: "edge", message: `${why} (the edge keeps the idle clock and wakes tenants on request)` });
    if (c.waker === undefined) problems.push({ path: "waker", message: `${why} (give the engine socket's group: waker.dockerSocketGid)` });
    if (c.images.waker === undefined) problems.push({ path: "images.waker", message: why });
  }
  let placement: Placement | undefined;
  if (problems.length === 0) {
    placement = planPlacement(
      hosts.map((h, j) => ({
        name: h.name,
        ...(h.capacity ? { capacity: h.capacity } : {}),
        budgetPath: c.hosts?.[j]?.capacity ? `hosts[${j}].capacity.hostMemoryMb` : "capacity.hostMemoryMb",
        where: c.hosts ? ` on host "${h.name}"` : "",
      })),
      tenants.map((t) => ({ id: t.config.id, ...(t.config.host !== undefined ? { host: t.config.host } : {}), suspend: t.suspend, memoryLimitMb: t.limits.memoryMb, heartbeatEveryS: t.heartbeatEveryS })),
    );
    problems.push(...placement.problems);
  }
  if (problems.length || placement === undefined) throw new OctwConfigError(subject, problems);
  const placed = placement;
  // By construction no two principals share an id; checked, because it is what isolates them.
  const clashes = sharedIdentities(
    platformPrincipals({
      tenants: tenants.map((t) => ({ id: t.config.id, ...t.identity })),
      embeddedPostgres: c.audit.mode === "embedded",
      edge: c.edge !== undefined,
      inferenceRouter: tenants.some((t) => t.policy.inference !== undefined),
      ...(c.egressAudit ? { egressAudit: { dockerSocketGid: c.egressAudit.dockerSocketGid } } : {}),
      ...(c.waker && suspendable.length > 0 ? { waker: { dockerSocketGid: c.waker.dockerSocketGid } } : {}),
    }),
  );
  if (clashes.length) throw new OctwConfigError(subject, clashes.map((m) => ({ path: "uidBase", message: `gives two principals one id (${m})` })));
  return {
    config: c,
    prefix: c.prefix ?? "octw",
    domain: c.domain ?? "localhost",
    addressPool: formatCidr(pool),
    egressSubnet,
    controlSubnet,
    ingressSubnet,
    platformNetworks,
    auditAddress: formatIpv4(control.base + 2),
    auditHost: c.audit.publish?.host ?? hosts[0]!.name,
    tenants: tenants.map((t) => ({ ...t, host: placed.hostOf.get(t.config.id)! })),
    hosts,
    placement,
  };
}


/**
 * Where the audit store may be, given the hosts: every rule names its field and what is allowed.
 * No audit traffic crosses hosts in plaintext or unverified: with more than one host (or one
 * remote host, whose control network the program cannot reach) the store is external with
 * verify-full, or embedded and published over TLS (`audit.publish`, verify-full against
 * `audit.caCertificate`).
 */
export function auditAcrossHostsProblems(a: ParsedPlatformConfig["audit"], hosts: readonly HostPlan[]): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const home = hosts[0]?.endpoint.kind;
  const remoteHome = home === "tcp" || home === "ssh";
  if (a.mode === "embedded" && a.publish === undefined) {
    if (hosts.length > 1) {
      problems.push({ path: "audit.publish", message: 'is required with mode "embedded" when the platform has more than one host: the store is reachable on its own host only, and no audit traffic crosses hosts in plaintext (or use mode "external" with sslMode "verify-full")' });
    } else if (remoteHome) {
      problems.push({ path: "audit.publish", message: 'is required with mode "embedded" when the host is a remote engine (tcp:// or ssh://): the program reaches an unpublished store at its address on that host\'s control network, which only that machine routes (or use mode "external")' });
    }
  }
  if (a.publish !== undefined) {
    const p = a.publish;
    if (a.mode !== "embedded") problems.push({ path: "audit.publish", message: 'is used only by mode "embedded" (an external server is published by its operator)' });
    if (p.host !== undefined && !hosts.some((h) => h.name === p.host)) problems.push({ path: "audit.publish.host", message: "must name one of hosts[].name" });
    const addr = publishAddressProblem(p.address);
    if (addr) problems.push({ path: "audit.publish.address", message: addr });
    if (a.sslMode !== undefined && a.sslMode !== "verify-full") problems.push({ path: "audit.sslMode", message: 'must be "verify-full" (or unset) with audit.publish: every connection from outside the store\'s control network verifies the server' });
    if (a.caCertificate === undefined) {
      problems.push({ path: "audit.caCertificate", message: "is required with audit.publish: the CA every client verifies the published store against" });
    } else {
      problems.push(...serverCertificateProblems({ caCertificate: a.caCertificate, certificate: p.certificate, address: p.address }, { caCertificate: "audit.caCertificate", certificate: "audit.publish.certificate", address: "audit.publish.address" }));
    }
    if (typeof p.key === "string") {
      const k = serverKeyProblem(p.certificate, p.key);
      if (k) problems.push({ path: "audit.publish.key", message: k });
    }
  }
  if (hosts.length > 1 && a.mode === "external" && a.sslMode !== "verify-full") {
    problems.push({ path: "audit.sslMode", message: 'must be "verify-full" when the platform has more than one host: audit connections cross hosts, so the server\'s certificate is verified' });
  }
  const verifies = a.mode === "external" ? a.sslMode === "verify-ca" || a.sslMode === "verify-full" : a.publish !== undefined;
  if (a.caCertificate !== undefined && !verifies) {
    problems.push({ path: "audit.caCertificate", message: 'is used only by mode "external" with sslMode "verify-ca" or "verify-full", or mode "embedded" with audit.publish (a CA nobody verifies against would be a false assurance)' });
  }
  return problems;
}
