// The `oidc` section of the edge config: people sign in with the organization's identity
// provider (authorization code + PKCE), and IdP groups map to tenant roles per tenant.
// Nothing here is secret: the client secret and the session-sealing key are files (Pulumi
// secrets mounted 0400), read by main.ts like the audit URL and the TLS key.
import { z } from "zod";
import { ALLOWED_ALGORITHMS, TENANT_ID_PATTERN, isLoopbackLiteral } from "./edge-config.js";

// Built on first use: this module and ../config import each other (the edge config embeds this
// section; this section uses the edge's algorithm list), so nothing here may run at load time.
function buildSchema() {
const GroupSchema = z.string().min(1).max(256).regex(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/, "printable ASCII without leading or trailing spaces");

/** Dot path into the ID token's claims, e.g. `groups` or `realm_access.roles`. */
const ClaimPathSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_:-]*(?:\.[A-Za-z_][A-Za-z0-9_:-]*){0,7}$/, "a claim name or a dot path such as realm_access.roles");

/** Per tenant: role name → IdP groups that hold it. A person in several gets all of them. */
// (Keys are checked in superRefine: zod's own record-key error does not say what is allowed.)
const TenantRoleMapSchema = z.record(z.string(), z.array(GroupSchema).max(256));

return z
  .object({
    /** Issuer identifier; discovery reads `<issuer>/.well-known/openid-configuration`. */
    issuer: z.url({ protocol: /^https?$/ }),
    /** Escape hatch for tests: an http: issuer on a loopback address literal. Never in a deployment. */
    allowHttpLoopback: z.boolean().default(false),
    clientId: z.string().min(1).max(256),
    /** File holding the client secret (0400). Absent: a public client (PKCE only). */
    clientSecretFile: z.string().min(1).optional(),
    /** File holding the session-sealing key: at least 32 random bytes (a Pulumi secret, 0400). */
    sessionKeyFile: z.string().min(1).default("/run/secrets/octw-edge/oidc-session-key"),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "an OAuth scope token")).default(["openid", "profile", "email", "groups", "offline_access"])
      .refine((s) => s.includes("openid"), "must include openid"),
    /**
     * `prompt` sent with every sign-in. Some IdPs (oidc-provider, Google) issue refresh tokens
     * for offline_access only with `consent`.
     */
    prompt: z.enum(["consent", "login", "select_account"]).optional(),
    /** ID tokens: the same asymmetric-only allowlist as bearer tokens. */
    algorithms: z.array(z.enum(ALLOWED_ALGORITHMS)).min(1).default(["RS256", "ES256"]),
    clockToleranceSec: z.number().int().min(0).max(300).default(30),
    /** ID tokens whose exp − iat exceeds this are refused (as jwt.maxLifetimeSec). */
    maxIdTokenLifetimeSec: z.number().int().min(60).max(86_400).default(3_600),
    /** Where the groups are in the ID token (or userinfo-free claims). */
    groupsClaim: ClaimPathSchema.default("groups"),
    /** tenant id → role → groups. A tenant not listed here lets nobody in by OIDC. */
    tenants: z.record(z.string(), TenantRoleMapSchema).default({}),
    /** Absolute session lifetime: after it, sign in again whatever the IdP says. */
    sessionMaxSec: z.number().int().min(300).max(604_800).default(28_800),
    /**
     * How often a session is re-checked with the IdP (refresh-token grant): roles are re-mapped
     * and a session ended at the IdP (or signed out on another edge) ends here within this.
     */
    recheckSec: z.number().int().min(30).max(3_600).default(300),
    /** How long a person has between being sent to the IdP and coming back. */
    loginTimeoutSec: z.number().int().min(60).max(3_600).default(600),
    timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
  })
  .superRefine((o, ctx) => {
    for (const [tenant, map] of Object.entries(o.tenants)) {
      if (!TENANT_ID_PATTERN.test(tenant)) {
        ctx.addIssue({ code: "custom", path: ["tenants", tenant], message: "is not a tenant id (a lower-case DNS label: a-z, 0-9, '-', at most 63 characters)" });
      }
      for (const role of Object.keys(map)) {
        if (!/^[a-z][a-z0-9_-]{0,31}$/.test(role)) ctx.addIssue({ code: "custom", path: ["tenants", tenant, role], message: "is not a role name (lower-case, at most 32 characters)" });
      }
    }
    const u = new URL(o.issuer);
    if (u.protocol !== "https:" && !(o.allowHttpLoopback && isLoopbackLiteral(u.hostname))) {
      ctx.addIssue({ code: "custom", path: ["issuer"], message: "must be an https: URL (http: only for a loopback address literal with allowHttpLoopback: true, for tests)" });
    }
  });
}

let built: ReturnType<typeof buildSchema> | undefined;
export function oidcConfigSchema(): ReturnType<typeof buildSchema> {
  built ??= buildSchema();
  return built;
}

export type OidcConfig = z.output<ReturnType<typeof buildSchema>>;

/** Checks that need the rest of the edge config (called from EdgeConfigSchema's superRefine). */
export function checkOidcAgainstEdge(
  o: OidcConfig,
  edge: { hostDomain?: string | undefined; publicScheme: string; tls: boolean; roles: Record<string, string[]> },
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  // The session cookie is host-only per tenant origin; path routes share one origin.
  if (!edge.hostDomain) addIssue(["oidc"], "needs routing.hostDomain: sign-in sessions are bound to a tenant's own origin");
  if (!edge.tls && edge.publicScheme !== "https") {
    addIssue(["oidc"], "needs https (listen.tls or listen.publicScheme: https): the session cookie is Secure");
  }
  for (const [tenant, map] of Object.entries(o.tenants)) {
    for (const role of Object.keys(map)) {
      if (!Object.prototype.hasOwnProperty.call(edge.roles, role)) {
        addIssue(["oidc", "tenants", tenant, role], `is not a role defined in roles (defined: ${Object.keys(edge.roles).join(", ")})`);
      }
    }
  }
}
