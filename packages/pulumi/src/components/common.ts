import { z } from "zod";

/** Tenant ids are lowercase DNS labels: they become host names, Docker names and Postgres values. */
export const tenantIdSchema = z
  .string()
  .regex(/^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/, "must be a lowercase DNS label: a-z first, then a-z, 0-9 or inner hyphens, at most 32 characters");

/** Docker object name for a tenant's part, e.g. `octw-alpha-gateway`. */
export function dockerName(prefix: string, tenantId: string, part: string): string {
  return `${prefix}-${tenantId}-${part}`;
}
