// Tenants this host's edge does not serve: with `routing.hostedHere` (the platform's placement, more
// than one host) every tenant not in it; without the list (one host) none. Kept as a set per
// config object: a reload swaps the config, and the set follows it.
import type { EdgeConfig } from "@octw/contracts";

const sets = new WeakMap<EdgeConfig["routing"], ReadonlySet<string>>();

export function hostedElsewhere(config: EdgeConfig, tenant: string): boolean {
  const list = config.routing.hostedHere;
  if (list === undefined) return false;
  let s = sets.get(config.routing);
  if (s === undefined) {
    s = new Set(list);
    sets.set(config.routing, s);
  }
  return !s.has(tenant);
}
