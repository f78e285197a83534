// Tenants another host's edge serves (the platform's placement, `routing.hostedElsewhere`). Kept
// as a set per config object: a reload swaps the config, and the set follows it.
import type { EdgeConfig } from "@octw/contracts";

const sets = new WeakMap<EdgeConfig["routing"], ReadonlySet<string>>();

export function hostedElsewhere(config: EdgeConfig, tenant: string): boolean {
  let s = sets.get(config.routing);
  if (s === undefined) {
    s = new Set(config.routing.hostedElsewhere);
    sets.set(config.routing, s);
  }
  return s.has(tenant);
}
