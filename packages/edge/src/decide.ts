// The decision: route → token (or sign-in session) → tenant → role → rate, in that order, each
// outcome recorded. Authentication comes before routing, so without a valid token every route
// looks alike (401) and nobody can enumerate tenant names.
import type { IncomingMessage } from "node:http";
import type { TenantRoute } from "@octw/contracts";
import type { BufferedAuditor } from "./audit";
import { SESSION_LOCAL_PATH, isWebSocketUpgrade, type Allowed, type Ctx, type Denied, type OidcLocal } from "./decision";
import type { DecisionAudit } from "./decision-audit";
import { readCookie } from "./headers";
import { isNavigation } from "./oidc/gate";
import { scopesForRoleClaim } from "./roles";
import { hostedElsewhere } from "./elsewhere";
import { requestTargetProblem, resolveRoute } from "./routing";
import type { EdgeState } from "./state";
import { extractToken, type TokenResult } from "./token";
import type { Upstreams } from "./upstreams";

export type Decide = (req: IncomingMessage, ctx: Ctx) => Promise<Allowed | Denied | OidcLocal>;

export function createDecide(state: EdgeState, upstreams: Upstreams, auditor: BufferedAuditor, rec: DecisionAudit): Decide {
  const { audit, deny, rateDeny } = rec;
  return async function decide(req, ctx) {
    const { config, oidcGate, verifier } = state;
    if (!auditor.hasRoom()) return { allow: false, status: 503, error: "unavailable" };
    const none = { tenant: null, actor: null, role: null };
    const ipTake = state.limits.take([["ip", ctx.clientIp]]);
    // A local answer is used as it is (no extra turn of the event loop); the primary's is awaited.
    const overIp = ipTake instanceof Promise ? await ipTake : ipTake;
    if (overIp !== undefined) return rateDeny(ctx, `ip:${ctx.clientIp}`, none, state.limits.retryAfterSec("ip"));

    // What is checked is what is forwarded: one Host, an origin-form target without anything
    // another hop could normalize into a different tenant's path.
    const targetProblem = requestTargetProblem(req.url ?? "");
    const hosts = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === "host").length;
    if (targetProblem !== undefined || hosts !== 1) return deny(ctx, 400, targetProblem ?? "duplicate_host", none);

    const route = resolveRoute(req.headers.host, req.url ?? "", config.routing);
    // A decision belongs to the tenant's trail when the platform knows the tenant: listed in the
    // config, or its upstream name resolves. The lookup is cached; a cold cache is resolved here,
    // so a denial after an idle spell is not recorded without its tenant (FINDINGS.md 10). Names
    // that resolve to nothing (attacker-chosen) stay out. An allowed request needs the same
    // lookup a few lines on, so it costs nothing extra.
    // A tenant this host does not serve (`routing.hostedHere`) is not looked up at all: this edge
    // cannot tell another host's tenant from an invented name, so before a token attests it, it
    // stays out of every trail — and a name left resolving here (a copy after a move) is no proof.
    const knownTenant =
      route.kind === "none" || hostedElsewhere(config, route.tenant) ? null : upstreams.knownNow(route.tenant) || (await upstreams.entry(route.tenant)) !== undefined ? route.tenant : null;
    const cookie = config.cookie.enabled ? readCookie(req.headers.cookie, config.cookie.name) : undefined;
    const { token, source } = extractToken(req.headers.authorization, cookie);
    if (oidcGate !== undefined && route.kind === "host" && oidcGate.isLocal(route.localPath)) {
      return { allow: "oidc-local", tenant: route.tenant, localPath: route.localPath };
    }

    let v: TokenResult;
    let refreshedCookie: string | undefined;
    let viaSession = false;
    let sessionId: string | undefined;
    if (oidcGate !== undefined && source === "none" && route.kind === "host") {
      // No bearer token, no edge JWT cookie: a person's sign-in session (or the way to one).
      const s = await oidcGate.authenticate(req, route.tenant);
      if (s.kind !== "ok") {
        const who = { tenant: knownTenant, actor: s.kind === "none" ? null : (s.sub ?? null), role: null };
        const reason = s.kind === "none" ? "no_token" : s.reason;
        const status = s.kind === "no_access" ? 403 : 401;
        if (!isNavigation(req)) {
          return deny(ctx, status, reason, who, s.kind === "none" ? { "www-authenticate": 'Bearer error="invalid_token"' } : { "set-cookie": oidcGate.clearSessionCookie });
        }
        const page = oidcGate.signInRequired(req, s, route.tenant);
        const d = deny(ctx, page.status, reason, who, page.headers);
        return d.status === 503 ? d : { ...d, html: page.html };
      }
      v = { ok: true, sub: s.sub, tenant: s.tenant, roleClaim: s.roles, exp: s.exp };
      refreshedCookie = s.setCookie;
      sessionId = s.sid;
      viaSession = true;
    } else {
      v = await verifier.verify(token);
    }
    if (!v.ok) {
      return deny(ctx, 401, v.reason, { tenant: knownTenant, actor: v.sub ?? null, role: null }, {
        "www-authenticate": 'Bearer error="invalid_token"',
      });
    }
    if ((source === "cookie" || viaSession) && !sameOrigin(req)) {
      // A cookie rides along on cross-site requests a browser makes; only same-origin ones count.
      return deny(ctx, 403, "origin_mismatch", { tenant: knownTenant, actor: v.sub, role: null });
    }
    if (route.kind === "none") return deny(ctx, 404, "no_route", { tenant: null, actor: v.sub, role: null });
    if (hostedElsewhere(config, route.tenant)) {
      // Not in this host's list (`routing.hostedHere`): refused, not forwarded (docs/multi-host.md).
      // Placement is the plan's, so a copy of the tenant left on this host (a move) is never
      // served either. Another tenant's token gets the 403 a tenant of this host would give, so
      // nobody learns where other tenants are; the tenant's own user learns only that this edge is
      // the wrong one (no host, no address: the client's fix is to resolve the name again). Only
      // the tenant's own token attests that the tenant exists: then the 421 is recorded in its
      // trail; another token's 403 in no tenant's (the name may be anybody's invention).
      if (v.tenant !== route.tenant) return deny(ctx, 403, "tenant_mismatch", { tenant: null, actor: v.sub, role: null });
      return deny(ctx, 421, "hosted_elsewhere", { tenant: route.tenant, actor: v.sub, role: null });
    }
    let entry: { route: TenantRoute; target: URL; unresolved?: boolean } | undefined = await upstreams.entry(route.tenant);
    const tpl = state.config.routing.upstreamTemplate;
    // A stopped gateway has no DNS name: a suspendable tenant is woken, not answered 404.
    if (entry === undefined && tpl && state.wake?.manages(route.tenant)) {
      const url = new URL(tpl.replace("{tenant}", route.tenant));
      entry = { route: { id: route.tenant, upstream: url.href }, target: url, unresolved: true };
    }
    if (entry === undefined) return deny(ctx, 404, "unknown_tenant", { tenant: null, actor: v.sub, role: null });
    if (v.tenant !== route.tenant) {
      return deny(ctx, 403, "tenant_mismatch", { tenant: route.tenant, actor: v.sub, role: null });
    }
    const roles = scopesForRoleClaim(v.roleClaim, state.config.roles);
    const roleLabel = roles.roles.length ? roles.roles.join(",").slice(0, 128) : null;
    if (!roles.ok) return deny(ctx, 403, roles.reason, { tenant: route.tenant, actor: v.sub, role: roleLabel });
    const who = { tenant: route.tenant, actor: v.sub, role: roleLabel };
    // Subject first: one user's flood spends only that user's budget, not the whole tenant's.
    const take = state.limits.take([["subject", `${route.tenant}\u0000${v.sub}`], ["tenant", route.tenant]]);
    const over = take instanceof Promise ? await take : take;
    if (over === "subject") return rateDeny(ctx, `s:${route.tenant}\u0000${v.sub}`, who, state.limits.retryAfterSec("subject"));
    if (over === "tenant") return rateDeny(ctx, `t:${route.tenant}`, who, state.limits.retryAfterSec("tenant"));
    const reason = route.localPath === SESSION_LOCAL_PATH ? "session" : "ok";
    if (!audit(ctx, true, { ...who, reason, status: 0 })) return { allow: false, status: 503, error: "unavailable" };
    return {
      allow: true,
      tenant: entry.route,
      target: entry.target,
      route,
      sub: v.sub,
      scopes: roles.scopes,
      exp: v.exp,
      tokenSource: source === "bearer" ? "bearer" : "cookie",
      token: token ?? "",
      setCookie: refreshedCookie,
      sessionId,
      ...(entry.unresolved ? { unresolved: true } : {}),
    };
  };
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return !isWebSocketUpgrade(req); // browsers always send Origin on WS
  try {
    return new URL(origin).host === (req.headers.host ?? "").toLowerCase();
  } catch {
    return false;
  }
}
