// An edge of a multi-host platform serves only the tenants its host holds (`routing.hostedHere`,
// from the platform's placement): any other tenant is refused with 421 (its own token; recorded in
// its trail) or 403, never forwarded — with controls: a tenant of this host is served, and the same
// stale upstream is served by an edge without the list, so the refusal is the list's doing and
// not a failed lookup.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { parseEdgeConfig } from "@octw/contracts";
import { createEdge, type EdgeServer } from "../src/server";
import { hostedElsewhere } from "../src/elsewhere";
import { AUDIENCE, ISSUER, MemoryAudit, claims, makeIssuer, recordingUpstream, type Issuer, type RecordingUpstream } from "./helpers";

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers: { host, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function wsStatus(port: number, host: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, [], { headers: { host, authorization: `Bearer ${token}` } });
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once("error", () => resolve(-1));
  });
}

let issuer: Issuer;
let up: RecordingUpstream;
const edges: EdgeServer[] = [];

/**
 * An edge whose tenants are found by name (as on the platform): every `gw-<tenant>.test` resolves
 * to the one recording upstream, so a tenant listed elsewhere still has a live copy "here".
 */
async function startEdge(hostedHere: string[] | undefined): Promise<{ port: number; audit: MemoryAudit }> {
  const audit = new MemoryAudit();
  const input = {
    listen: { host: "127.0.0.1", port: 0, publicScheme: "https" },
    routing: { hostDomain: "octw.test", pathRouting: true, upstreamTemplate: `http://gw-{tenant}.test:${up.port}`, ...(hostedHere ? { hostedHere } : {}) },
    tenants: [],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
  };
  const lookup = (name: string) => Promise.resolve(/^gw-[a-z0-9-]+\.test$/.test(name) ? "127.0.0.1" : undefined);
  const e = await createEdge(parseEdgeConfig(input), { audit, lookup });
  edges.push(e);
  return { port: (await e.listen()).port, audit };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  issuer = await makeIssuer("ES256");
  up = await recordingUpstream("here");
});
afterAll(async () => {
  for (const e of edges) await e.close();
  await up.close();
});

describe("a request for a tenant hosted on another host", () => {
  let port: number;
  let audit: MemoryAudit;
  beforeAll(async () => {
    ({ port, audit } = await startEdge(["a", "b"]));
  });

  it("control: a tenant of this host is served", async () => {
    up.requests.length = 0;
    const r = await get(port, "a.octw.test", "/x", bearer(await issuer.sign(claims("a", "member"))));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ upstream: "here", url: "/x" });
    expect(up.requests).toHaveLength(1);
  });

  it("its own user's token gets 421 naming nothing, by host, by path and on a WebSocket, and nothing goes upstream", async () => {
    up.requests.length = 0;
    up.upgrades.length = 0;
    const t = await issuer.sign(claims("c", "admin", "carol@example.test"));
    for (const [host, path] of [["c.octw.test", "/api/x?q=1"], ["octw.test", "/t/c/api/x"]] as const) {
      const r = await get(port, host, path, bearer(t));
      expect(r.status).toBe(421);
      // Exactly the uniform error: no host name, address, or anything of the placement.
      expect(r.body).toBe(JSON.stringify({ error: "misdirected_request" }));
      expect(r.headers.location).toBeUndefined();
    }
    expect(await wsStatus(port, "c.octw.test", t)).toBe(421);
    expect(up.requests).toHaveLength(0);
    expect(up.upgrades).toHaveLength(0);
  });

  it("is recorded as a decision in the tenant's trail", async () => {
    const t = await issuer.sign(claims("c", "member", "dave@example.test"));
    await get(port, "c.octw.test", "/audited", bearer(t));
    const ev = await audit.waitFor((e) => e.actor === "dave@example.test");
    expect(ev).toMatchObject({ type: "edge.auth.denied", tenant: "c", detail: { reason: "hosted_elsewhere", status: 421, route: "c.octw.test/audited" } });
    expect(JSON.stringify(audit.events)).not.toContain(t);
  });

  it("another tenant's token gets what a tenant of this host gives it (403), and no token gets 401 like anywhere", async () => {
    const other = await issuer.sign(claims("a", "admin", "alice@example.test"));
    const there = await get(port, "c.octw.test", "/", bearer(other));
    const here = await get(port, "b.octw.test", "/", bearer(other)); // b: a tenant of this host
    expect(there.status).toBe(403);
    expect([there.status, there.body]).toEqual([here.status, here.body]);
    const anon = await get(port, "c.octw.test", "/no-token-elsewhere");
    const anonHere = await get(port, "b.octw.test", "/no-token-here");
    expect(anon.status).toBe(401);
    expect([anon.status, anon.body]).toEqual([anonHere.status, anonHere.body]);
    // This edge cannot tell another host's tenant from an invented name: before a token of that
    // very tenant attests it, nothing lands in a trail named by the request (control: the same
    // denials for a tenant of this host land in its trail).
    await audit.waitFor((e) => e.tenant === "b" && e.detail.reason === "no_token");
    await audit.waitFor((e) => e.tenant === "b" && e.detail.reason === "tenant_mismatch" && e.actor === "alice@example.test");
    const elsewhere = audit.events.filter((e) => String(e.detail.route ?? "").startsWith("c.octw.test"));
    expect(elsewhere.map((e) => [e.detail.reason, e.tenant])).toEqual(expect.arrayContaining([["no_token", null], ["tenant_mismatch", null]]));
    expect(elsewhere.every((e) => e.tenant === null || e.detail.reason === "hosted_elsewhere")).toBe(true);
  });

  it("an invented name gets 421 only with a token for that name (which the platform's issuer signed), else 403/401", async () => {
    expect((await get(port, "zz.octw.test", "/", bearer(await issuer.sign(claims("zz", "member"))))).status).toBe(421);
    expect((await get(port, "zz.octw.test", "/", bearer(await issuer.sign(claims("a", "member"))))).status).toBe(403);
    expect((await get(port, "zz.octw.test", "/")).status).toBe(401);
  });

  it("control: the same stale copy is served by an edge that does not list the tenant elsewhere", async () => {
    const plain = await startEdge(undefined);
    up.requests.length = 0;
    const r = await get(plain.port, "c.octw.test", "/x", bearer(await issuer.sign(claims("c", "member"))));
    expect(r.status).toBe(200);
    expect(up.requests).toHaveLength(1);
  });
});

describe("the config", () => {
  const base = (routing: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    routing: { hostDomain: "octw.test", ...routing },
    tenants: [],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
    ...extra,
  });
  const problem = (input: unknown): string => {
    try {
      parseEdgeConfig(input);
    } catch (err) {
      return String(err);
    }
    return "accepted";
  };

  it("defaults to no list: the key stays absent (a single-host config parses as it always did) and nothing is elsewhere", () => {
    const config = parseEdgeConfig(base({}));
    expect(config.routing).not.toHaveProperty("hostedHere");
    expect(hostedElsewhere(config, "c")).toBe(false);
    // controls: listed here, it is served here; not listed, elsewhere; an empty list serves nobody
    expect(hostedElsewhere(parseEdgeConfig(base({ hostedHere: ["c"] })), "c")).toBe(false);
    expect(hostedElsewhere(parseEdgeConfig(base({ hostedHere: ["c"] })), "d")).toBe(true);
    expect(hostedElsewhere(parseEdgeConfig(base({ hostedHere: [] })), "c")).toBe(true);
  });

  it("refuses a routed or woken tenant missing from the list, a duplicate and a bad id", () => {
    expect(problem(base({ hostedHere: ["d"] }, { tenants: [{ id: "c", upstream: "http://gw:1" }] }))).toMatch(/tenants\[0\]\.id: is not in routing\.hostedHere/);
    expect(problem(base({ hostedHere: ["c", "c"] }))).toMatch(/routing\.hostedHere: tenant ids must be unique/);
    expect(problem(base({ hostedHere: ["Not_A_Label"] }))).toMatch(/routing\.hostedHere\[0\]: a tenant id/);
    expect(problem(base({ hostedHere: ["d"] }, { wake: { wakerUrl: "http://waker:1", tenants: { c: {} } } }))).toMatch(/wake\.tenants\.c: is not in routing\.hostedHere/);
    // controls: the same tenants listed are accepted
    expect(problem(base({ hostedHere: ["c"] }, { tenants: [{ id: "c", upstream: "http://gw:1" }] }))).toBe("accepted");
    expect(problem(base({ hostedHere: ["c"] }, { wake: { wakerUrl: "http://waker:1", tenants: { c: { pauseAfterS: 60 } } } }))).toBe("accepted");
  });
});
