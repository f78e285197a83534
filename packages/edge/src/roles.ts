// Role claim → OpenClaw operator scopes. Deny by default: no role, an empty role list or any
// role the config does not define yields no grant at all. This matters because OpenClaw gives a
// trusted-proxy HTTP request WITHOUT an x-openclaw-scopes header the full operator scope set.

export type RoleDecision =
  | { ok: true; roles: string[]; scopes: string[] }
  | { ok: false; reason: "missing_role" | "unknown_role" | "invalid_role_claim"; roles: string[] };

/**
 * Accepts a single role string or a list of role strings (union of their scopes).
 * Every listed role must be defined: one unknown entry denies the whole token, so a typo in
 * an identity provider never silently degrades into "whatever the known roles grant".
 */
export function scopesForRoleClaim(claim: unknown, mapping: Readonly<Record<string, readonly string[]>>): RoleDecision {
  if (claim === undefined || claim === null) return { ok: false, reason: "missing_role", roles: [] };
  const list = typeof claim === "string" ? [claim] : claim;
  if (!Array.isArray(list) || !list.every((r): r is string => typeof r === "string")) {
    return { ok: false, reason: "invalid_role_claim", roles: [] };
  }
  const roles = list.map((r) => r.slice(0, 64));
  if (roles.length === 0 || roles.every((r) => r === "")) return { ok: false, reason: "missing_role", roles };
  const scopes = new Set<string>();
  for (const role of roles) {
    // Own-property lookup only: "constructor" or "__proto__" must not resolve to anything.
    if (!Object.prototype.hasOwnProperty.call(mapping, role)) return { ok: false, reason: "unknown_role", roles };
    for (const s of mapping[role] ?? []) scopes.add(s);
  }
  if (scopes.size === 0) return { ok: false, reason: "missing_role", roles };
  return { ok: true, roles, scopes: [...scopes].sort() };
}

/** The x-openclaw-scopes value OpenClaw parses (comma-separated, see its trusted-proxy docs). */
export function scopesHeaderValue(scopes: readonly string[]): string {
  return scopes.join(",");
}
