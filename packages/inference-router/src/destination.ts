// The router's connect-time half of the destination rules (the config-time half and the address
// rules are in @octw/contracts' provider-destination.ts, shared with the Pulumi components): the
// provider's name is resolved once, EVERY resolved address must be allowed, and the socket is
// opened to exactly the address that was checked, so DNS rebinding cannot swap a public answer
// for a private one between check and connect.
import { isIP } from "node:net";
import { lookup as dnsLookup } from "node:dns/promises";
import { addressProblem, inetAtonIPv4, type DestinationPolicy } from "@octw/contracts";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
/** How names are resolved (injectable so tests control DNS answers without touching the network). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (host) => {
  const all = await dnsLookup(host, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export class DestinationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DestinationRefusedError";
  }
}

/**
 * Connect-time decision: resolves `host` (unless it is an IP literal or numeric IPv4 form),
 * refuses the whole name when ANY answer is not allowed (a name that also points inside is
 * refused, not filtered: the next answer could be the inside one), and returns the address to
 * connect to. Throws DestinationRefusedError (nothing was opened) or the resolver's error.
 */
export async function vetDestination(host: string, policy: DestinationPolicy, resolve: Resolver = systemResolver): Promise<ResolvedAddress> {
  const h = host.replace(/^\[|\]$/g, "");
  const literal = isIP(h) !== 0 ? h : inetAtonIPv4(h);
  const answers: ResolvedAddress[] = literal !== undefined ? [{ address: literal, family: isIP(literal) === 6 ? 6 : 4 }] : await resolve(h);
  if (answers.length === 0) throw new DestinationRefusedError("the provider host resolved to no address");
  for (const a of answers) {
    const why = isIP(a.address) === 0 ? "is not an IP address" : addressProblem(a.address, policy);
    // The address itself is not named: it would tell a tenant what is inside the platform.
    if (why) throw new DestinationRefusedError(`the provider host resolved to an address that ${why}`);
  }
  return answers[0]!;
}

/**
 * A `lookup` for http(s).request that answers with the address vetted above and nothing else.
 * Node calls it with `{ all: true }` when happy-eyeballs is on, without otherwise.
 */
export function pinnedLookup(pinned: ResolvedAddress) {
  return (_host: string, options: unknown, cb: (...args: unknown[]) => void): void => {
    const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all === true;
    if (all) cb(null, [{ address: pinned.address, family: pinned.family }]);
    else cb(null, pinned.address, pinned.family);
  };
}
