// What the router's modules share while it runs: the config in force (swapped whole on reload,
// never changed in place), the tables derived from it, and the counters the health path and
// shutdown read.
import { destinationPolicyOf, type DestinationPolicy, type RouterConfig } from "@octw/contracts";
import { TenantLimiter } from "./limits";
import { buildTenantTable, type TenantTable } from "./tenancy";

export class RouterState {
  config: RouterConfig;
  table: TenantTable;
  destinations: DestinationPolicy;
  readonly limiter = new TenantLimiter();
  /** Calls holding a concurrency slot (from the slot's acquisition to the call's end). */
  inFlight = 0;
  /** Set on shutdown: new calls are refused, answers ask the client to close the connection. */
  draining = false;

  constructor(config: RouterConfig) {
    this.config = config;
    this.table = buildTenantTable(config.tenants);
    this.destinations = destinationPolicyOf(config);
  }

  /** Puts a new config in force (the caller decides which of its sections may change live). */
  apply(config: RouterConfig): void {
    this.config = config;
    this.table = buildTenantTable(config.tenants);
    this.destinations = destinationPolicyOf(config);
  }
}
