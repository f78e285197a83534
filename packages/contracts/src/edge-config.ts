// The edge's configuration: one JSON document, validated by the edge before anything listens and
// by the Pulumi components before anything is declared (the reason it lives in @octw/contracts).
// Nothing in it is secret: keys are public keys, the JWKS URL is public. Secrets (the TLS
// private key, the audit database URL) are referenced by file path and read by main.ts.
import { z } from "zod";
import { parseOrThrow } from "./config-error.js";
import { checkOidcAgainstEdge, oidcConfigSchema } from "./edge-oidc-config.js";

/** Tenant ids double as DNS labels (`<tenant>.<domain>`) and path segments (`/t/<tenant>/`). */
export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Only asymmetric algorithms: an HMAC algorithm would let anyone holding the public key forge tokens. */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "EdDSA"] as const;
export type AllowedAlgorithm = (typeof ALLOWED_ALGORITHMS)[number];

export const ScopeSchema = z
  .string()
  .regex(/^operator\.[a-z]+(?:\.[a-z]+)*$/, "an OpenClaw operator scope such as operator.read");

/**
 * Default role → OpenClaw operator scopes (sent as `x-openclaw-scopes`, comma-separated).
 * viewer reads, member also writes, admin also administers, approves and pairs.
 */
export const DEFAULT_ROLE_SCOPES: Record<string, string[]> = {
  viewer: ["operator.read"],
  member: ["operator.read", "operator.write"],
  admin: ["operator.read", "operator.write", "operator.admin", "operator.approvals", "operator.pairing"],
};

/**
 * The header the edge sets to the authenticated subject and every gateway trusts
 * (`gateway.auth.trustedProxy.userHeader`). One name for both sides: a mismatch would leave every
 * request unauthenticated.
 */
export const USER_HEADER = "x-octw-user";

const HeaderNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "a lower-case HTTP header name");

/** A verification key: public (no `d`), asymmetric (no `oct`). */
export const JwkSchema = z
  .object({ kty: z.enum(["RSA", "EC", "OKP"]) })
  .loose()
  .refine((k) => !("d" in k), "must be a public key (a JWK with a private part `d` is refused)");

const PemKeySchema = z.object({
  pem: z.string().includes("-----BEGIN PUBLIC KEY-----", { message: "must be an SPKI PEM public key" }),
  alg: z.enum(ALLOWED_ALGORITHMS),
  kid: z.string().min(1).optional(),
});

const KeySourceSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("jwks-url"),
    /**
     * https: only — keys fetched over plain HTTP could be swapped by anyone on the path, and
     * whoever chooses the keys chooses every token's tenant and role.
     */
    url: z.url({ protocol: /^https?$/ }),
    /**
     * Escape hatch for tests: also accept `http://` when the host is a loopback address literal
     * (127.0.0.0/8 or [::1]). Never set it in a deployment.
     */
    allowHttpLoopback: z.boolean().default(false),
    /** How long fetched keys are used before a refetch. */
    cacheMaxAgeMs: z.number().int().min(1_000).max(86_400_000).default(600_000),
    /** Minimum gap between fetches triggered by an unknown `kid` (rate limit of refreshes). */
    cooldownMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
    timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
  }).superRefine((k, ctx) => {
    const u = new URL(k.url);
    if (u.protocol === "https:") return;
    if (k.allowHttpLoopback && isLoopbackLiteral(u.hostname)) return;
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: "must be an https: URL (http: only for a loopback address literal with allowHttpLoopback: true, for tests)",
    });
  }),
  z.object({
    kind: z.literal("static"),
    jwks: z.array(JwkSchema).default([]),
    pems: z.array(PemKeySchema).default([]),
  }).refine((s) => s.jwks.length + s.pems.length > 0, "static keys: give at least one JWK or PEM"),
]);

/** 127.0.0.0/8 or ::1, written as an address: a name could resolve anywhere. */
export function isLoopbackLiteral(hostname: string): boolean {
  if (hostname === "[::1]") return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

/** Role name → the OpenClaw operator scopes it grants. */
export const RoleScopesSchema = z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "a lower-case role name"), z.array(ScopeSchema));

/**
 * How the edge verifies tokens, as an operator writes it (the Edge component's `jwt` and the
 * platform's `edge.jwt`; rendered into {@link EdgeConfigSchema}'s `jwt`). Declared once, with the edge's own rules for keys (public, asymmetric) so a bad key is refused
 * before anything is declared, at the path the user wrote.
 */
export const edgeJwtArgsSchema = z.strictObject({
  issuer: z.string().min(1),
  audience: z.string().min(1),
  /** Allowed algorithms (asymmetric only: RS256, ES256, EdDSA). */
  algorithms: z.array(z.enum(ALLOWED_ALGORITHMS, "only asymmetric algorithms: RS256, ES256, EdDSA")).min(1),
  /** Public JWKs the edge trusts (static keys), e.g. the local dev issuer's. */
  // Typed as any JSON object (what jose's exportJWK returns), checked by the edge's key rules.
  jwks: z.array(z.record(z.string(), z.unknown()).pipe(JwkSchema)).optional(),
  /** Or a JWKS URL (cached, refreshed on unknown kid, rate-limited). */
  jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Claim naming the tenant. @default "tenant" */
  tenantClaim: z.string().min(1).optional(),
  /** Claim naming the role. @default "role" */
  roleClaim: z.string().min(1).optional(),
});
export type EdgeJwtArgs = z.input<typeof edgeJwtArgsSchema>;

const RateSchema = z.object({
  /** Sustained requests per second. */
  ratePerSec: z.number().positive().max(1_000_000),
  /** Bucket size: how many requests may come at once. */
  burst: z.number().int().positive().max(10_000_000),
});

export const TenantRouteSchema = z.object({
  id: z.string().regex(TENANT_ID_PATTERN, "a lower-case DNS label (a-z, 0-9, '-', at most 63 characters)"),
  /** The tenant gateway, on the tenant network only (e.g. http://10.64.0.37:18789). */
  upstream: z.url({ protocol: /^http$/ }),
});

/** A suspendable tenant's idle thresholds (the platform's SuspendPolicy other than alwaysOn). */
export const SuspendThresholdsSchema = z
  .strictObject({
    /** Idle seconds after which the tenant is paused (cgroup freezer: memory stays, resumes in ms). */
    pauseAfterS: z.number().int().min(1).max(86_400).optional(),
    /** Idle seconds after which the tenant is stopped (memory freed). */
    stopAfterS: z.number().int().min(1).max(604_800).optional(),
  })
  .refine((p) => p.pauseAfterS !== undefined || p.stopAfterS !== undefined, "give pauseAfterS, stopAfterS or both")
  .refine((p) => p.pauseAfterS === undefined || p.stopAfterS === undefined || p.stopAfterS > p.pauseAfterS, {
    message: "stopAfterS must be greater than pauseAfterS",
    path: ["stopAfterS"],
  });

/**
 * Suspend idle tenants and wake them on request, through the waker (packages/waker). The edge
 * holds only the waker's URL and the file with its bearer token, never the Engine API socket.
 */
export const WakeConfigSchema = z.object({
  /** The waker on the control network, e.g. http://octw-waker:8790. */
  wakerUrl: z.url({ protocol: /^http$/ }),
  /** File holding the waker's bearer token (a secret: mode 0400). */
  tokenFile: z.string().min(1).default("/var/lib/octw-edge/secrets/waker-token"),
  /**
   * The suspendable tenants and their thresholds; a tenant not listed is always on (never
   * suspended, never woken). A listed tenant whose gateway name does not resolve (a stopped
   * container has no DNS name) is woken, not answered 404.
   */
  tenants: z.record(z.string().regex(TENANT_ID_PATTERN, "a tenant id (lower-case DNS label)"), SuspendThresholdsSchema).default({}),
  /**
   * The gateway's health path, polled over the tenant network after a wake (200 = serving).
   * Not OpenClaw's `/readyz`: from a trusted proxy's address it answers 403
   * "proxy_attribution_required" whatever X-Forwarded-For says (found on the realized stack);
   * `/healthz` is what the engine's healthcheck uses too.
   */
  readyPath: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, "an absolute path").default("/healthz"),
  /** Longest a request or WebSocket upgrade is held while its tenant wakes (then 503 + Retry-After). */
  holdTimeoutMs: z.number().int().min(100).max(300_000).default(30_000),
  /** A browser asking for HTML gets the self-refreshing "starting…" page after this long. */
  htmlHoldMs: z.number().int().min(0).max(300_000).default(2_000),
  /** Requests held per tenant at once; more are answered 503 + Retry-After at once. */
  maxHeldPerTenant: z.number().int().min(1).max(100_000).default(256),
  /** Requests held over all tenants at once. */
  maxHeldTotal: z.number().int().min(1).max(1_000_000).default(4_096),
  /** One wake (waker call + readiness) that takes longer fails. */
  wakeTimeoutMs: z.number().int().min(500).max(600_000).default(60_000),
  readyPollMs: z.number().int().min(10).max(10_000).default(100),
  /** One readiness probe (also the first request's check after an edge restart). */
  probeTimeoutMs: z.number().int().min(50).max(60_000).default(1_000),
  /** How often the idle clock looks for tenants to suspend. */
  tickMs: z.number().int().min(50).max(60_000).default(1_000),
  /** After a failed suspend, wait this long before trying that tenant again. */
  suspendRetryMs: z.number().int().min(100).max(3_600_000).default(30_000),
  /** Retry-After (seconds) of the 503 a failed or timed-out wake answers. */
  retryAfterSec: z.number().int().min(1).max(3_600).default(5),
});

export const EdgeConfigSchema = z
  .object({
    listen: z
      .object({
        host: z.string().min(1).default("0.0.0.0"),
        port: z.number().int().min(0).max(65_535).default(8443),
        /** TLS: files holding the certificate chain and the private key (the key is a secret, 0400). */
        tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
        /** Scheme the clients use (for X-Forwarded-Proto), when TLS ends in front of the edge. */
        publicScheme: z.enum(["https", "http"]).default("https"),
        /**
         * Worker processes sharing the port: "auto" is the container's CPU limit (cgroup
         * cpu.max), else the CPUs the process may use. 1 runs the edge in one process.
         */
        workers: z.union([z.literal("auto"), z.number().int().min(1).max(64)]).default("auto"),
      })
      .prefault({}),
    routing: z
      .object({
        /** `<tenant>.<hostDomain>` routes to that tenant. Omit to disable host routing. */
        hostDomain: z
          .string()
          .regex(/^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, "a lower-case DNS name")
          .optional(),
        /**
         * `/t/<tenant>/…` routes to that tenant (prefix removed upstream). Off by default: it puts
         * every tenant's Control UI on ONE browser origin, where a hostile tenant's pages can run
         * same-origin requests against other tenants' routes with the user's cookies, read
         * other tenants' responses and register origin-wide workers (see the README). The edge
         * confines upstream cookies and Service-Worker-Allowed to the tenant's prefix, but the
         * origin stays shared. When `hostDomain` is also set, path routes are served only on
         * the host `<hostDomain>` itself.
         */
        pathRouting: z.boolean().default(false),
        /**
         * Upstream of a tenant not listed in `tenants`, e.g. `http://octw-{tenant}-gateway:18789`:
         * the name resolves only on the tenant networks the edge is attached to, so tenants come
         * and go without touching the edge's config. A name that does not resolve is an unknown
         * tenant (404). Give the edge container `dns: ["127.0.0.1"]` so that lookups of unknown
         * names end at Docker's embedded DNS and are never forwarded to the host's resolvers.
         */
        upstreamTemplate: z
          .string()
          .regex(/^http:\/\/[a-z0-9.-]*\{tenant\}[a-z0-9.-]*:\d{1,5}$/, "http://<host containing {tenant}>:<port>, e.g. http://octw-{tenant}-gateway:18789")
          .optional(),
        /**
         * The tenants this host serves (from the platform's placement), when the platform has
         * more than one host. A request for any other tenant is not served here, whatever its name
         * resolves to: with a valid token of that very tenant it is answered 421 Misdirected
         * Request (recorded in that tenant's trail, which the token attests); any other token gets
         * what it gets for a tenant of this host (403), so a user learns nothing about where other
         * tenants are. Never forwarded (docs/multi-host.md). The answer names no host or address:
         * the client's fix is to resolve the tenant's name again. A list of this host's own tenants
         * (not of the others'), so a tenant added to one host changes no other host's config.
         * Absent (one host): every tenant whose name resolves is served, as always.
         */
        hostedHere: z
          .array(z.string().regex(TENANT_ID_PATTERN, "a tenant id (lower-case DNS label)"))
          .max(100_000)
          .refine((ids) => new Set(ids).size === ids.length, "tenant ids must be unique")
          // absent, not [], when there is one host: a single-host config parses as it always did
          .optional(),
      })
      .prefault({}),
    tenants: z.array(TenantRouteSchema).refine(
      (ts) => new Set(ts.map((t) => t.id)).size === ts.length,
      "tenant ids must be unique",
    ),
    jwt: z.object({
      issuer: z.string().min(1),
      audience: z.string().min(1),
      algorithms: z.array(z.enum(ALLOWED_ALGORITHMS)).min(1),
      /** Clock skew tolerated on exp/nbf; bounded so a mistake cannot make tokens immortal. */
      clockToleranceSec: z.number().int().min(0).max(300).default(30),
      /**
       * Reject tokens whose lifetime (exp - iat) exceeds this; 0 disables. When enabled, a token
       * must carry `iat`, and `iat` must not lie in the future (beyond clockToleranceSec):
       * otherwise a far-future iat would make any exp pass.
       */
      maxLifetimeSec: z.number().int().min(0).max(31_536_000).default(86_400),
      keys: KeySourceSchema,
      /**
       * Tokens whose signature was verified are remembered (by their exact text) for this long,
       * so a client re-using its token skips the signature check; exp/nbf are still checked on
       * every request. Bounds how long a token signed by a key just removed from the JWKS keeps
       * working. 0 disables.
       */
      verifiedCacheSec: z.number().int().min(0).max(300).default(60),
      verifiedCacheMax: z.number().int().min(1).max(1_000_000).default(10_000),
      tenantClaim: z.string().min(1).default("tenant"),
      roleClaim: z.string().min(1).default("role"),
      userClaim: z.string().min(1).default("sub"),
    }),
    cookie: z
      .object({
        /** Name of the Secure; HttpOnly; SameSite=Strict cookie the Control UI uses. */
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, '_' or '-'").default("octw_session"),
        enabled: z.boolean().default(true),
      })
      .prefault({}),
    roles: RoleScopesSchema.default(DEFAULT_ROLE_SCOPES),
    headers: z
      .object({
        /** The gateway's `gateway.auth.trustedProxy.userHeader`. */
        user: HeaderNameSchema.default(USER_HEADER),
        /** Extra client headers to strip besides the built-in identity set. */
        stripExtra: z.array(HeaderNameSchema).default([]),
      })
      .prefault({}),
    limits: z
      .object({
        maxHeaderBytes: z.number().int().min(1_024).max(1_048_576).default(16_384),
        maxBodyBytes: z.number().int().min(0).max(1_073_741_824).default(10_485_760),
        perTenant: RateSchema.default({ ratePerSec: 200, burst: 400 }),
        perSubject: RateSchema.default({ ratePerSec: 50, burst: 100 }),
        /** Applied before any token is checked, so floods of bad tokens cost little. */
        perClientIp: RateSchema.default({ ratePerSec: 100, burst: 200 }),
        /**
         * Until the gateway's response headers are complete (504 after it, however the bytes
         * trickle), and the longest silence allowed while its body streams.
         */
        upstreamTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
        /** Longest a gateway's response body may stream in total (then the response is cut). */
        upstreamBodyTimeoutMs: z.number().int().min(100).max(86_400_000).default(600_000),
        requestTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(300_000),
        wsIdleTimeoutMs: z.number().int().min(1_000).max(86_400_000).default(600_000),
        wsMaxLifetimeMs: z.number().int().min(1_000).max(604_800_000).default(43_200_000),
        wsMaxPayloadBytes: z.number().int().min(1_024).max(1_073_741_824).default(26_214_400),
        shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
      })
      .prefault({}),
    wake: WakeConfigSchema.optional(),
    audit: z
      .object({
        /** Events waiting for the audit store; when full, the edge refuses requests (fail closed). */
        bufferMax: z.number().int().min(1).max(1_000_000).default(10_000),
        /** File holding the audit writer's Postgres URL (a secret: mode 0400, never an env var). */
        connectionUrlFile: z.string().min(1).default("/run/secrets/octw-edge/audit-db-url"),
        /** AuditClient's spool for events Postgres could not take yet (on a volume). */
        spoolPath: z.string().min(1).default("/var/lib/octw-edge/audit.spool"),
      })
      .prefault({}),
    /** People sign in with the organization's IdP (see edge-oidc-config.ts). Lazy: the modules import each other. */
    oidc: z.lazy(() => oidcConfigSchema()).optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.routing.hostDomain && !c.routing.pathRouting) {
      ctx.addIssue({ code: "custom", path: ["routing"], message: "set routing.hostDomain (host routing, one origin per tenant; recommended) or enable routing.pathRouting" });
    }
    const reserved = new Set([c.headers.user, "x-openclaw-scopes"]);
    if (reserved.size !== 2) {
      ctx.addIssue({ code: "custom", path: ["headers", "user"], message: "must not be x-openclaw-scopes" });
    }
    const here = c.routing.hostedHere === undefined ? undefined : new Set(c.routing.hostedHere);
    if (here !== undefined) {
      c.tenants.forEach((t, i) => {
        if (!here.has(t.id)) ctx.addIssue({ code: "custom", path: ["tenants", i, "id"], message: "is not in routing.hostedHere: an edge serves only the tenants its host holds" });
      });
      for (const id of Object.keys(c.wake?.tenants ?? {})) {
        if (!here.has(id)) ctx.addIssue({ code: "custom", path: ["wake", "tenants", id], message: "is not in routing.hostedHere: only this host's tenants are woken here" });
      }
    }
    if (Object.keys(c.roles).length === 0) {
      ctx.addIssue({ code: "custom", path: ["roles"], message: "define at least one role" });
    }
    if (c.oidc) {
      checkOidcAgainstEdge(
        c.oidc,
        { hostDomain: c.routing.hostDomain, publicScheme: c.listen.publicScheme, tls: c.listen.tls !== undefined, roles: c.roles },
        (path, message) => ctx.addIssue({ code: "custom", path, message }),
      );
    }
  });

export type EdgeConfig = z.output<typeof EdgeConfigSchema>;
export type EdgeConfigInput = z.input<typeof EdgeConfigSchema>;
export type TenantRoute = z.output<typeof TenantRouteSchema>;
export type WakeConfig = z.output<typeof WakeConfigSchema>;
export type SuspendThresholds = z.output<typeof SuspendThresholdsSchema>;

/**
 * Validates a config; throws an {@link OctwConfigError} whose problems name every bad field (as
 * structured `{ path, message }`, e.g. `jwt.keys.jwks[0]`) and what it accepts.
 */
export function parseEdgeConfig(input: unknown): EdgeConfig {
  return parseOrThrow(EdgeConfigSchema, input, "edge config");
}
