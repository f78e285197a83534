// The edge's reloadable state: everything a config reload may swap, in one object the modules
// read at the moment they need it (a decision carries its own upstream, so a reload never
// changes a request half-way).
import type { EdgeConfig } from "@octw/contracts";
import type { SanitizeOptions } from "./headers";
import type { OidcGate } from "./oidc/gate";
import type { RateLimits } from "./rate-limits";
import type { TokenVerifier } from "./token";
import type { WakePort } from "./wake-hold";

export interface EdgeState {
  config: EdgeConfig;
  verifier: TokenVerifier;
  oidcGate: OidcGate | undefined;
  /** Per client address, per tenant+subject, per tenant: local, or held by the cluster's primary. */
  limits: RateLimits;
  sanitize: SanitizeOptions;
  /** Idle suspend and wake on request (wake.ts), when the config has a `wake` section. */
  wake: WakePort | undefined;
  /** The scheme the edge tells gateways the client used. */
  readonly proto: "http" | "https";
  readonly nowSec: () => number;
  /** Set once close() begins: new upgrades are refused, responses carry `connection: close`. */
  draining: boolean;
}

export const sanitizeOf = (c: EdgeConfig): SanitizeOptions => ({
  userHeader: c.headers.user,
  cookieName: c.cookie.name,
  extraStripped: new Set(c.headers.stripExtra),
});
