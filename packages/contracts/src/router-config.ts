// The router's configuration: one JSON document, validated before anything listens. Nothing in
// it is secret: tenants' router tokens appear only as SHA-256 digests, provider keys live
// encrypted in Postgres (tenant_secrets) and are named here, and the database URL and master
// keyring are referenced by file path (read by main.ts).
import { isIP } from "node:net";
import { z } from "zod";
import { TENANT_ID_PATTERN } from "./edge-config.js";
import { baseUrlProblem, blockListOf, type DestinationPolicy } from "./provider-destination.js";

/** Provider names are path segments (`/<provider>/v1/...`) and secret-name prefixes. */
export const PROVIDER_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
/** Model ids as providers spell them (gpt-4o-mini, claude-sonnet-4-5-20250929, org/model:tag). */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;
/** Names of tenant_secrets rows (same rule as @octw/audit's SECRET_NAME_PATTERN). */
const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** The request shapes the router speaks. Each decides paths, the model field, and how the key is sent. */
export const PROVIDER_APIS = ["openai", "anthropic"] as const;
export type ProviderApi = (typeof PROVIDER_APIS)[number];

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function ipv4ToInt(ip: string): number | undefined {
  if (!IPV4.test(ip)) return undefined;
  return ip.split(".").reduce((acc, o) => ((acc << 8) >>> 0) + Number(o), 0) >>> 0;
}

export interface Cidr {
  base: number;
  mask: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const base = ipv4ToInt(m[1]!);
  const len = Number(m[2]);
  if (base === undefined || len < 8 || len > 30) return undefined;
  const mask = (0xffffffff << (32 - len)) >>> 0;
  if ((base & mask) >>> 0 !== base) return undefined;
  return { base, mask };
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & c.mask) >>> 0) === c.base;
}

/** An IPv4 or IPv6 address or CIDR (no width limit: these are networks to refuse or test networks). */
export function anyCidrProblem(text: string): string | undefined {
  const [addr, len, extra] = text.split("/");
  const family = isIP(addr ?? "");
  if (extra !== undefined || family === 0) return "must be an IP address or CIDR such as 10.64.0.0/16 or fd00::/8";
  if (len !== undefined && (!/^\d{1,3}$/.test(len) || Number(len) > (family === 4 ? 32 : 128))) return `has an invalid prefix length (0..${family === 4 ? 32 : 128})`;
  return undefined;
}
const anyCidr = z.string().superRefine((s, ctx) => {
  const p = anyCidrProblem(s);
  if (p) ctx.addIssue({ code: "custom", message: p });
});

/** The env var that must be "1" for `allowInsecureProvidersForTests` to be accepted. Set only by tests. */
export const INSECURE_PROVIDERS_ENV = "OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS";

const ipv4 = z.string().refine((s) => ipv4ToInt(s) !== undefined, "must be an IPv4 address such as 10.64.0.35");
const cidr = z.string().refine((s) => parseCidr(s) !== undefined, "must be an IPv4 CIDR /8../30 without host bits, e.g. 10.64.0.32/27");

const RateSchema = z.object({
  /** Sustained requests per second. */
  ratePerSec: z.number().positive().max(100_000),
  /** Bucket size: how many requests may come at once. */
  burst: z.number().int().positive().max(1_000_000),
});

export const TenantLimitsSchema = z.strictObject({
  /** Requests per second (token bucket), counted per tenant whatever their outcome. */
  rate: RateSchema.default({ ratePerSec: 10, burst: 20 }),
  /** Requests of this tenant in flight at once (streams included); more are refused with 429. */
  maxConcurrent: z.number().int().min(1).max(10_000).default(8),
  /**
   * Open TCP connections from this tenant's network (idle keep-alive ones included); more are
   * closed at once, so one tenant cannot exhaust the shared router's sockets.
   */
  maxConnections: z.number().int().min(1).max(100_000).default(64),
});

export const ProviderSchema = z
  .strictObject({
    /** Path segment the sandbox uses: `http://<router>:<port>/<name>/v1/...`. */
    name: z.string().regex(PROVIDER_NAME_PATTERN, "a lower-case name: a-z first, then a-z, 0-9 or '-', at most 32 characters"),
    api: z.enum(PROVIDER_APIS, "must be one of: openai, anthropic"),
    /** Upstream origin (+ optional path prefix) the router forwards to; never reachable from the sandbox. */
    // Syntax here; where it may point (https, public host) is checked by the schema that uses this
    // one (`inferencePolicySchema` always strictly; the router config strictly unless its test
    // escape hatch is on), see `baseUrlProblem`.
    baseUrl: z.url({ protocol: /^https?$/, error: "must be an https URL such as https://api.example.com" }).refine(
      (u) => !new URL(u).search && !new URL(u).hash && !new URL(u).username && !new URL(u).password,
      "must not carry a query, a fragment or credentials",
    ),
    /** tenant_secrets name holding this tenant's key for the provider. */
    keySecret: z.string().regex(SECRET_NAME_PATTERN, "a tenant_secrets name such as openai/api-key").optional(),
    /** Models this tenant may call through this provider (exact ids). */
    models: z.array(z.string().regex(MODEL_ID_PATTERN, "a model id: letters, digits and . _ : / @ -, at most 128 characters")).min(1, "list at least one model"),
  })
  .transform((p) => ({ ...p, keySecret: p.keySecret ?? `${p.name}/api-key` }));

export const TenantSchema = z.strictObject({
  id: z.string().regex(TENANT_ID_PATTERN, "a lower-case DNS label (a-z, 0-9, '-', at most 63 characters)"),
  /** The router's own address on this tenant's network (offset .3): requests must arrive there. */
  routerAddress: ipv4,
  /** The tenant network: requests must come from inside it. */
  subnet: cidr,
  /** SHA-256 (hex) of the tenant's router token; the token itself never reaches this file. */
  tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex characters (SHA-256 of the router token)"),
  providers: z.array(ProviderSchema),
  limits: TenantLimitsSchema.prefault({}),
});

export const RouterConfigSchema = z
  .strictObject({
    listen: z
      .strictObject({
        host: z.string().min(1).default("0.0.0.0"),
        port: z.number().int().min(0).max(65_535).default(8080),
      })
      .prefault({}),
    tenants: z.array(TenantSchema),
    /**
     * The platform's own networks besides the tenant subnets (control, egress, host): a provider
     * address inside them is refused at connect time. Tenant subnets are always refused.
     */
    platformNetworks: z.array(anyCidr).default([]),
    /**
     * TEST ONLY. Lets providers use http:// and the listed networks (e.g. ["127.0.0.1/32"] for a
     * fake provider on loopback). Refused unless the router's environment has
     * OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS=1, which no component sets; the components never
     * render this field. Tenant subnets and platformNetworks stay refused even then.
     */
    allowInsecureProvidersForTests: z.array(anyCidr).min(1).optional(),
    limits: z
      .strictObject({
        /** Request bodies are read whole (the model field decides routing); bounded. */
        maxBodyBytes: z.number().int().min(1_024).max(104_857_600).default(10_485_760),
        /** Until the upstream answers with headers. */
        upstreamTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
        /** Longest silence between two chunks of an upstream response (streams). */
        upstreamIdleMs: z.number().int().min(100).max(3_600_000).default(120_000),
        /** Longest a whole upstream exchange may last (an endless stream is cut here). */
        upstreamMaxMs: z.number().int().min(100).max(86_400_000).default(1_800_000),
        /** On SIGTERM, how long open requests may run before they are cut with an error. */
        shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
        /** Error bodies of the upstream are buffered (to remove the key if echoed) up to this size. */
        maxErrorBodyBytes: z.number().int().min(256).max(1_048_576).default(65_536),
      })
      .prefault({}),
    keys: z
      .strictObject({
        /** A decrypted key is used without asking Postgres again for this long. */
        cacheTtlMs: z.number().int().min(0).max(3_600_000).default(60_000),
        /**
         * While Postgres cannot be reached, a cached key keeps serving for at most this long after
         * it was last fetched; then the tenant's calls fail (503) until Postgres is back.
         */
        maxStaleMs: z.number().int().min(0).max(86_400_000).default(900_000),
        /** File holding the Postgres URL of the writer role (a secret: mode 0400, never an env var). */
        connectionUrlFile: z.string().min(1).default("/run/secrets/octw-inference-router/db-url"),
        /** File holding the master keyring: `<version>:<base64 32-byte key>` entries. */
        keyringFile: z.string().min(1).default("/run/secrets/octw-inference-router/master-keyring"),
      })
      .prefault({}),
    audit: z
      .strictObject({
        /** Events not yet accepted by the audit store; when full, requests are refused (fail closed). */
        bufferMax: z.number().int().min(1).max(1_000_000).default(10_000),
        /** Defaults to keys.connectionUrlFile. */
        connectionUrlFile: z.string().min(1).optional(),
        /** AuditClient's spool (on a volume) for events Postgres could not take yet. */
        spoolPath: z.string().min(1).default("/var/lib/octw-inference-router/audit.spool"),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.allowInsecureProvidersForTests !== undefined && process.env[INSECURE_PROVIDERS_ENV] !== "1") {
      ctx.addIssue({ code: "custom", path: ["allowInsecureProvidersForTests"], message: `is a test-only switch and is refused here (the router's environment does not set ${INSECURE_PROVIDERS_ENV}=1)` });
    }
    const destinations = destinationPolicyOf(c);
    const seen = new Map<string, number>();
    const addresses = new Map<string, string>();
    const subnets: { tenant: string; cidr: Cidr }[] = [];
    const hashes = new Map<string, string>();
    c.tenants.forEach((t, i) => {
      const at = ["tenants", i];
      if (seen.has(t.id)) ctx.addIssue({ code: "custom", path: [...at, "id"], message: `"${t.id}" is already used by tenants[${seen.get(t.id)}]` });
      seen.set(t.id, i);
      const net = parseCidr(t.subnet);
      const router = ipv4ToInt(t.routerAddress);
      // Field-level problems are already reported; the cross-checks need both values.
      if (net === undefined || router === undefined) return;
      if (!cidrContains(net, router)) {
        ctx.addIssue({ code: "custom", path: [...at, "routerAddress"], message: `${t.routerAddress} is not inside the tenant's subnet ${t.subnet}` });
      }
      const other = addresses.get(t.routerAddress);
      if (other) ctx.addIssue({ code: "custom", path: [...at, "routerAddress"], message: `${t.routerAddress} is already the router address of tenant "${other}"` });
      addresses.set(t.routerAddress, t.id);
      for (const s of subnets) {
        const overlap = cidrContains(s.cidr, net.base) || cidrContains(net, s.cidr.base);
        if (overlap) ctx.addIssue({ code: "custom", path: [...at, "subnet"], message: `${t.subnet} overlaps the subnet of tenant "${s.tenant}": arrival could not decide the tenant` });
      }
      subnets.push({ tenant: t.id, cidr: net });
      const h = hashes.get(t.tokenSha256);
      if (h) ctx.addIssue({ code: "custom", path: [...at, "tokenSha256"], message: `is the same as tenant "${h}"'s: every tenant needs its own router token` });
      hashes.set(t.tokenSha256, t.id);
      const names = new Set<string>();
      t.providers.forEach((p, j) => {
        const where = baseUrlProblem(p.baseUrl, destinations);
        if (where) ctx.addIssue({ code: "custom", path: [...at, "providers", j, "baseUrl"], message: where });
        if (names.has(p.name)) ctx.addIssue({ code: "custom", path: [...at, "providers", j, "name"], message: `"${p.name}" is listed twice for this tenant` });
        names.add(p.name);
      });
    });
  });

/**
 * Where providers may be: public addresses outside the platform's networks (tenant subnets and
 * `platformNetworks`), plus — only when the test hatch is accepted — http:// and its networks.
 */
export function destinationPolicyOf(c: { tenants: readonly { subnet: string }[]; platformNetworks?: readonly string[]; allowInsecureProvidersForTests?: readonly string[] }): DestinationPolicy {
  const platform = [...c.tenants.map((t) => t.subnet).filter((s) => anyCidrProblem(s) === undefined), ...(c.platformNetworks ?? []).filter((s) => anyCidrProblem(s) === undefined)];
  const hatch = c.allowInsecureProvidersForTests && process.env[INSECURE_PROVIDERS_ENV] === "1" ? c.allowInsecureProvidersForTests.filter((s) => anyCidrProblem(s) === undefined) : undefined;
  return { platform: blockListOf(platform), ...(hatch ? { insecureForTests: blockListOf(hatch) } : {}) };
}

export type RouterConfig = z.output<typeof RouterConfigSchema>;
export type RouterConfigInput = z.input<typeof RouterConfigSchema>;
export type RouterTenantConfig = z.output<typeof TenantSchema>;
export type ProviderConfig = z.output<typeof ProviderSchema>;

/** Validates a config; the error names every bad field and what it accepts. */
export function parseRouterConfig(input: unknown): RouterConfig {
  const r = RouterConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new Error(`invalid inference router config:\n  ${lines.join("\n  ")}`);
  }
  return r.data;
}
