// An OIDC-enabled edge in front of two recording tenants, signed in through the test IdP.
import { randomBytes } from "node:crypto";
import { parseEdgeConfig, type EdgeConfigInput } from "@octw/contracts";
import { createEdge, type EdgeServer } from "../../src/server";
import { MemoryAudit, makeIssuer, recordingUpstream, type Issuer, type RecordingUpstream } from "../helpers";
import { CLIENT_ID, CLIENT_SECRET } from "./idp";

export const DOMAIN = "octw.test";
export const ROLE_MAP = {
  alpha: { admin: ["alpha-admins"], member: ["alpha-members"], viewer: ["alpha-viewers"] },
  bravo: { admin: ["bravo-admins"], member: ["bravo-members"], viewer: ["bravo-viewers"] },
};

export interface EdgeUnderTest {
  edge: EdgeServer;
  port: number;
  audit: MemoryAudit;
  clock: { offsetSec: number };
  close(): Promise<void>;
}

export interface Tenants {
  alpha: RecordingUpstream;
  bravo: RecordingUpstream;
  /** Signs bearer tokens for the machine-client path. */
  bearer: Issuer;
  close(): Promise<void>;
}

export async function startTenants(): Promise<Tenants> {
  const alpha = await recordingUpstream("alpha");
  const bravo = await recordingUpstream("bravo");
  const bearer = await makeIssuer("ES256");
  return { alpha, bravo, bearer, close: async () => void (await Promise.all([alpha.close(), bravo.close()])) };
}

/** Edges started with the same key are "several edges of one platform". */
export async function startOidcEdge(
  t: Tenants,
  issuer: string,
  o: { sessionKey?: Buffer; oidc?: Record<string, unknown>; fetch?: typeof fetch; clock?: { offsetSec: number }; tls?: { cert: string; key: string } } = {},
): Promise<EdgeUnderTest> {
  const audit = new MemoryAudit();
  const clock = o.clock ?? { offsetSec: 0 };
  const input: EdgeConfigInput = {
    listen: { host: "127.0.0.1", port: 0, publicScheme: "https" },
    routing: { hostDomain: DOMAIN },
    tenants: [
      { id: "alpha", upstream: t.alpha.url },
      { id: "bravo", upstream: t.bravo.url },
    ],
    jwt: { issuer: "https://issuer.test", audience: "octw-edge", algorithms: ["ES256"], keys: { kind: "static", pems: [{ pem: t.bearer.publicPem, alg: "ES256", kid: t.bearer.kid }] } },
    oidc: {
      issuer,
      allowHttpLoopback: true,
      clientId: CLIENT_ID,
      clientSecretFile: "/unused-in-tests",
      prompt: "consent",
      tenants: ROLE_MAP,
      recheckSec: 60,
      ...o.oidc,
    },
  };
  const config = parseEdgeConfig(input);
  const nowSec = () => Math.floor(Date.now() / 1000) + clock.offsetSec;
  const edge = await createEdge(config, {
    audit,
    nowSec,
    tls: o.tls,
    oidc: { sessionKey: o.sessionKey ?? randomBytes(32), clientSecret: CLIENT_SECRET, fetch: o.fetch },
  });
  const addr = await edge.listen();
  return { edge, port: addr.port, audit, clock, close: () => edge.close() };
}

export const USERS = {
  mia: { username: "mia", password: "mia-pass-1" },
  vic: { username: "vic", password: "vic-pass-1" },
  ada: { username: "ada", password: "ada-pass-1" },
  nog: { username: "nog", password: "nog-pass-1" },
};

export const tenantUrl = (tenant: string, path = "/") => `https://${tenant}.${DOMAIN}${path}`;
