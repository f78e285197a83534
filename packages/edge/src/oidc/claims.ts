// IdP claims → tenant roles. Pure, so the whole mapping is unit-tested. Deny by default: a claim
// that is absent or not a list of strings, or groups that map to nothing, give no role.

/** The value at a dot path (`realm_access.roles`), own properties only. */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  let cur: unknown = claims;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export type RoleMapping =
  | { ok: true; roles: string[] }
  | { ok: false; reason: "no_groups_claim" | "invalid_groups_claim" | "no_mapped_group" | "tenant_not_configured" };

/**
 * Roles of a person in a tenant: every role one of their groups is listed under. A single
 * string claim counts as one group (some IdPs send that for one membership).
 */
export function rolesFromClaims(
  claims: Readonly<Record<string, unknown>>,
  groupsClaim: string,
  tenantMap: Readonly<Record<string, readonly string[]>> | undefined,
): RoleMapping {
  if (tenantMap === undefined) return { ok: false, reason: "tenant_not_configured" };
  const raw = claimAt(claims, groupsClaim);
  if (raw === undefined || raw === null) return { ok: false, reason: "no_groups_claim" };
  const groups = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === "string")) {
    return { ok: false, reason: "invalid_groups_claim" };
  }
  const mine = new Set(groups);
  const roles = Object.keys(tenantMap)
    .filter((role) => (tenantMap[role] ?? []).some((g) => mine.has(g)))
    .sort();
  return roles.length ? { ok: true, roles } : { ok: false, reason: "no_mapped_group" };
}
