// The edge as an OIDC relying party against a real IdP (oidc-provider, in process on loopback).
// Every refusal is paired with the same step done right (the positive control), so a probe
// that could not fail would show up as a failing control.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { FLOW_COOKIE, SESSION_COOKIE } from "../../src/oidc/gate";
import { Sealer } from "../../src/oidc/seal";
import { Browser, rawRequest } from "./driver";
import { CLIENT_ID, CLIENT_SECRET, startTestIdp, type TestIdp } from "./idp";
import { DOMAIN, startOidcEdge, startTenants, tenantUrl, USERS, type EdgeUnderTest, type Tenants } from "./setup";

const ORIGINS = ["alpha", "bravo"].map((t) => `https://${t}.${DOMAIN}`);
const idpOptions = {
  redirectUris: ORIGINS.map((o) => `${o}/_edge/oidc/callback`),
  postLogoutRedirectUris: ORIGINS.map((o) => `${o}/_edge/oidc/signed-out`),
};

let idp: TestIdp;
let otherIdp: TestIdp;
let t: Tenants;
const key = randomBytes(32);
let e: EdgeUnderTest;
/** When set, the token endpoint's ID token is replaced by this one (a substituted response). */
const swap: { idToken: string | undefined } = { idToken: undefined };
const swappingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (swap.idToken === undefined || !url.endsWith("/token")) return res;
  const body = (await res.json()) as Record<string, unknown>;
  body.id_token = swap.idToken;
  return new Response(JSON.stringify(body), { status: res.status, headers: { "content-type": "application/json" } });
};

beforeAll(async () => {
  idp = await startTestIdp({ ...idpOptions, otherClientId: "another-app" });
  otherIdp = await startTestIdp(idpOptions);
  t = await startTenants();
  e = await startOidcEdge(t, idp.issuer, { sessionKey: key, fetch: swappingFetch });
});
afterAll(async () => {
  await e?.close();
  await t?.close();
  await idp?.close();
  await otherIdp?.close();
});

/** An ID token for `clientId` at `at`, obtained by the test acting as that client. */
async function idTokenFrom(at: TestIdp, clientId: string): Promise<string> {
  const b = new Browser(0);
  const verifier = randomBytes(32).toString("base64url");
  const { createHash } = await import("node:crypto");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const auth = new URL(`${at.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: clientId, response_type: "code", scope: "openid groups", redirect_uri: idpOptions.redirectUris[0]!,
    code_challenge: challenge, code_challenge_method: "S256", nonce: "n-other", state: "s-other", prompt: "consent",
  }).toString();
  const cb = new URL(await b.toCallback(auth.href, USERS.mia));
  const res = await fetch(`${at.issuer}/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: cb.searchParams.get("code")!, redirect_uri: idpOptions.redirectUris[0]!, code_verifier: verifier }).toString(),
  });
  return ((await res.json()) as { id_token: string }).id_token;
}

const reasons = (u: EdgeUnderTest) => u.audit.events.map((ev) => ev.detail.reason);
const hasSession = (b: Browser, tenant = "alpha") => b.jar.get(`${tenant}.${DOMAIN}`, SESSION_COOKIE) !== undefined;

describe("sign-in through the IdP", () => {
  it("a member signs in with username and password and reaches alpha as a member; the cookie is host-only, Secure, HttpOnly, Strict, bounded", async () => {
    const b = new Browser(e.port);
    const first = await b.go(tenantUrl("alpha", "/chat?x=1"));
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe("/_edge/oidc/login?return=%2Fchat%3Fx%3D1");
    const login = await b.go(new URL(first.headers.location!, first.url).href);
    const authUrl = new URL(login.headers.location!);
    // PKCE S256, state and nonce on the authorization request.
    expect(authUrl.origin).toBe(idp.issuer);
    expect(authUrl.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authUrl.searchParams.get("state")).toMatch(/^[\w-]{20,}$/);
    expect(authUrl.searchParams.get("nonce")).toMatch(/^[\w-]{20,}$/);
    expect(authUrl.searchParams.get("redirect_uri")).toBe(`https://alpha.${DOMAIN}/_edge/oidc/callback`);
    const r = await b.go(await b.toCallback(authUrl.href, USERS.mia));
    expect(r.status).toBe(200);
    expect(r.body).toContain('url=/chat?x=1');
    const set = ([] as string[]).concat(r.headers["set-cookie"] ?? []).find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    expect(set).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    expect(set).not.toMatch(/domain=/i);
    expect(Number(/Max-Age=(\d+)/.exec(set)![1])).toBeLessThanOrEqual(28_800);
    const page = await b.go(tenantUrl("alpha", "/chat?x=1"));
    expect(page.status).toBe(200);
    const seen = t.alpha.requests.at(-1)!;
    expect(seen.headers["x-octw-user"]).toBe("mia");
    expect(seen.headers["x-openclaw-scopes"]).toBe("operator.read,operator.write");
    // The gateway never sees the edge's cookies.
    expect(seen.headers.cookie ?? "").not.toContain("octw_oidc");
    const signin = e.audit.events.find((ev) => ev.detail.reason === "oidc_signin" && ev.actor === "mia")!;
    expect(signin).toMatchObject({ tenant: "alpha", type: "edge.auth.allowed", detail: { role: "member" } });
    // The audit trail holds the subject and the decision, never a token or the sealed cookie.
    const all = JSON.stringify(e.audit.events);
    expect(all).not.toContain(b.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!.slice(3, 40));
    expect(all).not.toMatch(/eyJ[\w-]{10,}\./);
  });

  it("wrong state: refused, no session; the same flow with its own state signs in (control)", async () => {
    const b = new Browser(e.port);
    const cb = new URL(await b.toCallback(tenantUrl("alpha"), USERS.mia));
    const forged = new URL(cb);
    forged.searchParams.set("state", "attacker-chosen-state-value-123");
    const r = await b.go(forged.href);
    expect(r.status).toBe(400);
    expect(r.body).toContain("Sign-in did not complete");
    expect(hasSession(b)).toBe(false);
    expect(reasons(e)).toContain("oidc_wrong_state");
    const b2 = new Browser(e.port);
    expect((await b2.signIn(tenantUrl("alpha"), USERS.mia)).status).toBe(200);
    expect(hasSession(b2)).toBe(true);
  });

  it("replayed code: the first use signs in (control), the replay — even with the flow cookie kept — does not", async () => {
    const b = new Browser(e.port);
    const cb = await b.toCallback(tenantUrl("alpha"), USERS.mia);
    const flow = b.jar.get(`alpha.${DOMAIN}`, FLOW_COOKIE)!;
    expect((await b.go(cb)).status).toBe(200);
    const thief = new Browser(e.port);
    thief.jar.set(`alpha.${DOMAIN}`, FLOW_COOKIE, flow);
    const replay = await thief.go(cb);
    expect(replay.status).toBe(400);
    expect(hasSession(thief)).toBe(false);
    // And without the flow cookie (another browser): no login in progress there.
    const other = await new Browser(e.port).go(cb);
    expect(other.status).toBe(400);
    expect(reasons(e)).toEqual(expect.arrayContaining(["oidc_token_endpoint_refused", "oidc_no_login_in_progress"]));
  });

  it("wrong nonce: refused; the unmodified flow signs in (control)", async () => {
    const sealer = new Sealer(key);
    const origin = `https://alpha.${DOMAIN}`;
    const b = new Browser(e.port);
    const cb = await b.toCallback(tenantUrl("alpha"), USERS.mia);
    const flow = sealer.unseal("flow", origin, b.jar.get(`alpha.${DOMAIN}`, FLOW_COOKIE)) as Record<string, unknown>;
    expect(typeof flow.nonce).toBe("string");
    b.jar.set(`alpha.${DOMAIN}`, FLOW_COOKIE, sealer.seal("flow", origin, { ...flow, nonce: "not-the-nonce-sent-to-the-idp" }));
    expect((await b.go(cb)).status).toBe(400);
    expect(hasSession(b)).toBe(false);
    expect(reasons(e)).toContain("oidc_wrong_nonce");
    const c = new Browser(e.port);
    const cb2 = await c.toCallback(tenantUrl("alpha"), USERS.mia);
    const flow2 = sealer.unseal("flow", origin, c.jar.get(`alpha.${DOMAIN}`, FLOW_COOKIE)) as Record<string, unknown>;
    c.jar.set(`alpha.${DOMAIN}`, FLOW_COOKIE, sealer.seal("flow", origin, flow2)); // re-sealed, same nonce
    expect((await c.go(cb2)).status).toBe(200);
  });

  it("an ID token from another issuer or for another audience in the token response: refused; the IdP's own (control) signs in", async () => {
    for (const [label, token] of [
      ["issuer", await idTokenFrom(otherIdp, CLIENT_ID)],
      ["audience", await idTokenFrom(idp, "another-app")],
    ] as const) {
      const b = new Browser(e.port);
      const cb = await b.toCallback(tenantUrl("alpha"), USERS.mia);
      swap.idToken = token;
      try {
        expect((await b.go(cb)).status, label).toBe(400);
      } finally {
        swap.idToken = undefined;
      }
      expect(hasSession(b), label).toBe(false);
    }
    expect(reasons(e)).toEqual(expect.arrayContaining(["oidc_wrong_issuer", "oidc_wrong_audience"]));
    const c = new Browser(e.port);
    expect((await c.signIn(tenantUrl("alpha"), USERS.mia)).status).toBe(200);
  });

  it("alg not allowed by the edge (RS256 ID token, edge allows ES256 only): refused; allowed alg (control) signs in", async () => {
    const strict = await startOidcEdge(t, idp.issuer, { oidc: { algorithms: ["ES256"] } });
    const loose = await startOidcEdge(t, idp.issuer, { oidc: { algorithms: ["RS256"] } });
    try {
      const b = new Browser(strict.port);
      expect((await b.signIn(tenantUrl("alpha"), USERS.mia)).status).toBe(400);
      expect(hasSession(b)).toBe(false);
      expect(reasons(strict)).toContain("oidc_algorithm_not_allowed");
      const c = new Browser(loose.port);
      expect((await c.signIn(tenantUrl("alpha"), USERS.mia)).status).toBe(200);
    } finally {
      await strict.close();
      await loose.close();
    }
  });
});

describe("the session cookie", () => {
  it("tampered: sign-in required (session-ended page), nothing proxied; untampered (control) reaches alpha", async () => {
    const b = new Browser(e.port);
    await b.signIn(tenantUrl("alpha"), USERS.mia);
    const good = b.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!;
    const before = t.alpha.requests.length;
    for (const i of [5, 20, good.length - 3]) {
      const bad = good.slice(0, i) + (good[i] === "A" ? "B" : "A") + good.slice(i + 1);
      const r = await rawRequest(e.port, `alpha.${DOMAIN}`, "/x", { headers: { accept: "text/html", cookie: `${SESSION_COOKIE}=${bad}` } });
      expect(r.status).toBe(401);
      expect(r.body).toContain("Your session has ended");
    }
    expect(t.alpha.requests.length).toBe(before);
    const ok = await rawRequest(e.port, `alpha.${DOMAIN}`, "/x", { headers: { accept: "text/html", cookie: `${SESSION_COOKIE}=${good}` } });
    expect(ok.status).toBe(200);
  });

  it("from another tenant's origin: useless on alpha even for a person who is an alpha admin; alpha's own cookie (control) works", async () => {
    const b = new Browser(e.port);
    expect((await b.signIn(tenantUrl("bravo"), USERS.ada)).status).toBe(200);
    expect((await b.signIn(tenantUrl("alpha"), USERS.ada)).status).toBe(200);
    const bravoCookie = b.jar.get(`bravo.${DOMAIN}`, SESSION_COOKIE)!;
    const alphaCookie = b.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!;
    const stolen = await rawRequest(e.port, `alpha.${DOMAIN}`, "/", { headers: { accept: "application/json", cookie: `${SESSION_COOKIE}=${bravoCookie}` } });
    expect(stolen.status).toBe(401);
    expect(JSON.parse(stolen.body)).toEqual({ error: "unauthorized" });
    const own = await rawRequest(e.port, `alpha.${DOMAIN}`, "/", { headers: { accept: "application/json", cookie: `${SESSION_COOKIE}=${alphaCookie}` } });
    expect(own.status).toBe(200);
    expect(t.alpha.requests.at(-1)!.headers["x-openclaw-scopes"]).toContain("operator.admin");
    // The same cookie on bravo's origin is bravo's (control for the binding the other way).
    const onBravo = await rawRequest(e.port, `bravo.${DOMAIN}`, "/", { headers: { accept: "application/json", cookie: `${SESSION_COOKIE}=${bravoCookie}` } });
    expect(onBravo.status).toBe(200);
  });

  it("a person in no mapped group gets the no-access page (403 HTML), audited with the subject; bravo's gateway gets nothing from an alpha member", async () => {
    const b = new Browser(e.port);
    const r = await b.signIn(tenantUrl("alpha"), USERS.nog);
    expect(r.status).toBe(403);
    expect(r.headers["content-type"]).toMatch(/text\/html/);
    expect(r.body).toContain("You have no access to this tenant");
    expect(hasSession(b)).toBe(false);
    expect(e.audit.events.some((ev) => ev.actor === "nog" && ev.detail.reason === "oidc_no_access:no_mapped_group")).toBe(true);
    const before = t.bravo.requests.length;
    const m = new Browser(e.port);
    await m.signIn(tenantUrl("alpha"), USERS.mia);
    const bravo = await m.signIn(tenantUrl("bravo")); // single sign-on at the IdP: no password asked
    expect(bravo.status).toBe(403);
    expect(bravo.body).toContain("You have no access to this tenant");
    expect(t.bravo.requests.length).toBe(before);
  });

  it("machine clients: a bearer token works unchanged, and a non-navigation without credentials gets 401 JSON, not a redirect", async () => {
    const token = await t.bearer.sign({ sub: "ci-bot", tenant: "alpha", role: "member" });
    const r = await rawRequest(e.port, `alpha.${DOMAIN}`, "/api", { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(t.alpha.requests.at(-1)!.headers["x-octw-user"]).toBe("ci-bot");
    const none = await rawRequest(e.port, `alpha.${DOMAIN}`, "/api", { headers: { accept: "application/json" } });
    expect(none.status).toBe(401);
    expect(none.headers.location).toBeUndefined();
    const nav = await rawRequest(e.port, `alpha.${DOMAIN}`, "/api", { headers: { "sec-fetch-mode": "navigate" } });
    expect(nav.status).toBe(302);
  });
});

describe("sign-out, expiry and several edges", () => {
  it("sign-out: the cookie replayed on this edge is refused at once; RP-initiated logout goes to the IdP; a cross-site sign-out is refused", async () => {
    const b = new Browser(e.port);
    await b.signIn(tenantUrl("alpha"), USERS.mia);
    const cookie = b.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!;
    const csrf = await b.go(tenantUrl("alpha", "/_edge/oidc/logout"), { method: "POST", headers: { origin: "https://evil.example" } });
    expect(csrf.status).toBe(403);
    expect((await b.go(tenantUrl("alpha", "/"))).status).toBe(200); // still signed in (control)
    const out = await b.go(tenantUrl("alpha", "/_edge/oidc/logout"), { method: "POST", headers: { origin: `https://alpha.${DOMAIN}` } });
    expect(out.status).toBe(303);
    const end = new URL(out.headers.location!);
    expect(end.origin).toBe(idp.issuer);
    expect(end.pathname).toBe("/session/end");
    expect(end.searchParams.get("post_logout_redirect_uri")).toBe(`https://alpha.${DOMAIN}/_edge/oidc/signed-out`);
    expect(hasSession(b)).toBe(false);
    const replay = await rawRequest(e.port, `alpha.${DOMAIN}`, "/", { headers: { "sec-fetch-mode": "navigate", cookie: `${SESSION_COOKIE}=${cookie}` } });
    expect(replay.status).toBe(401);
    expect(replay.body).toContain("Sign in again");
    expect(reasons(e)).toContain("oidc_session_signed_out");
  });

  it("several edges, one key: a session issued by edge A works on edge B; after sign-out on A, B refuses it at its next re-check (refresh token revoked); a session not signed out refreshes on B (control)", async () => {
    const clock = { offsetSec: 0 };
    const a = await startOidcEdge(t, idp.issuer, { sessionKey: key, clock });
    const bEdge = await startOidcEdge(t, idp.issuer, { sessionKey: key, clock });
    try {
      const out = new Browser(a.port);
      await out.signIn(tenantUrl("alpha"), USERS.mia);
      const stays = new Browser(a.port);
      await stays.signIn(tenantUrl("alpha"), USERS.vic);
      const outCookie = out.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!;
      const staysCookie = stays.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!;
      const onB = (c: string) => rawRequest(bEdge.port, `alpha.${DOMAIN}`, "/", { headers: { accept: "application/json", cookie: `${SESSION_COOKIE}=${c}` } });
      expect((await onB(outCookie)).status).toBe(200);
      await out.go(tenantUrl("alpha", "/_edge/oidc/logout"), { method: "POST", headers: { origin: `https://alpha.${DOMAIN}` } });
      // Before the re-check B cannot know (stateless); after it, B asks the IdP.
      expect((await onB(outCookie)).status).toBe(200);
      clock.offsetSec = 90;
      const refused = await onB(outCookie);
      expect(refused.status).toBe(401);
      expect(reasons(bEdge)).toContain("oidc_refresh_token_endpoint_refused");
      const refreshed = await onB(staysCookie);
      expect(refreshed.status).toBe(200);
      expect(([] as string[]).concat(refreshed.headers["set-cookie"] ?? []).some((c) => c.startsWith(`${SESSION_COOKIE}=v1.`))).toBe(true);
    } finally {
      await a.close();
      await bEdge.close();
    }
  });

  it("WebSocket: a session due for its re-check is refreshed on the upgrade (new cookie on the 101); after sign-out the upgrade is refused", async () => {
    const clock = { offsetSec: 0 };
    const edge = await startOidcEdge(t, idp.issuer, { sessionKey: key, clock });
    const upgrade = (cookie: string) =>
      new Promise<{ status: number; setCookie: string[] }>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${edge.port}/ws`, {
          headers: { host: `alpha.${DOMAIN}`, origin: `https://alpha.${DOMAIN}`, cookie: `${SESSION_COOKIE}=${cookie}` },
        });
        ws.once("upgrade", (res: IncomingMessage) => {
          resolve({ status: 101, setCookie: ([] as string[]).concat(res.headers["set-cookie"] ?? []) });
          ws.close();
        });
        ws.once("unexpected-response", (_q, res) => {
          resolve({ status: res.statusCode ?? 0, setCookie: [] });
          res.resume();
        });
        ws.once("error", () => {});
      });
    try {
      const b = new Browser(edge.port);
      await b.signIn(tenantUrl("alpha"), USERS.mia);
      const cookie = b.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!;
      const fresh = await upgrade(cookie);
      expect(fresh).toEqual({ status: 101, setCookie: [] }); // not due yet: nothing to refresh
      clock.offsetSec = 90;
      const due = await upgrade(cookie);
      expect(due.status).toBe(101);
      expect(due.setCookie.some((c) => c.startsWith(`${SESSION_COOKIE}=v1.`) && c.includes("SameSite=Strict"))).toBe(true);
      clock.offsetSec = 0;
      await b.go(tenantUrl("alpha", "/_edge/oidc/logout"), { method: "POST", headers: { origin: `https://alpha.${DOMAIN}` } });
      expect((await upgrade(cookie)).status).toBe(401);
    } finally {
      await edge.close();
    }
  });

  it("sign-out closes that session's WebSockets on this edge at once (4003); another person's socket stays open (control)", async () => {
    const open = (cookie: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${e.port}/ws`, { headers: { host: `alpha.${DOMAIN}`, origin: `https://alpha.${DOMAIN}`, cookie: `${SESSION_COOKIE}=${cookie}` } });
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      });
    const closed = (ws: WebSocket) => new Promise<number>((r) => ws.once("close", (code) => r(code)));
    const leaving = new Browser(e.port);
    await leaving.signIn(tenantUrl("alpha"), USERS.mia);
    const staying = new Browser(e.port);
    await staying.signIn(tenantUrl("alpha"), USERS.vic);
    const a = await open(leaving.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!);
    const b = await open(staying.jar.get(`alpha.${DOMAIN}`, SESSION_COOKIE)!);
    const aClosed = closed(a);
    await leaving.go(tenantUrl("alpha", "/_edge/oidc/logout"), { method: "POST", headers: { origin: `https://alpha.${DOMAIN}` } });
    expect(await aClosed).toBe(4003);
    expect(b.readyState).toBe(WebSocket.OPEN);
    b.send("still here");
    expect(await new Promise<string>((r) => b.once("message", (d: Buffer) => r(d.toString())))).toBe("alpha:still here");
    b.close();
  });

  it("roles follow the IdP at the re-check: a viewer moved to the members group becomes a member", async () => {
    const clock = { offsetSec: 0 };
    const edge = await startOidcEdge(t, idp.issuer, { sessionKey: key, clock });
    try {
      const b = new Browser(edge.port);
      await b.signIn(tenantUrl("alpha"), USERS.vic);
      await b.go(tenantUrl("alpha", "/"));
      expect(t.alpha.requests.at(-1)!.headers["x-openclaw-scopes"]).toBe("operator.read");
      idp.setGroups("vic", ["alpha-members"]);
      clock.offsetSec = 90;
      await b.go(tenantUrl("alpha", "/"));
      expect(t.alpha.requests.at(-1)!.headers["x-openclaw-scopes"]).toBe("operator.read,operator.write");
      expect(edge.audit.events.some((ev) => ev.actor === "vic" && ev.detail.reason === "oidc_roles_changed" && ev.detail.role === "member")).toBe(true);
    } finally {
      idp.setGroups("vic", ["alpha-viewers"]);
      await edge.close();
    }
  });

  it("an expired session leads to the session-ended page, whose sign-in returns to where the person was", async () => {
    const clock = { offsetSec: 0 };
    const edge = await startOidcEdge(t, idp.issuer, { sessionKey: key, clock, oidc: { sessionMaxSec: 300 } });
    try {
      const b = new Browser(edge.port);
      await b.signIn(tenantUrl("alpha", "/"), USERS.mia);
      expect((await b.go(tenantUrl("alpha", "/chat/42?view=full"))).status).toBe(200);
      clock.offsetSec = 301;
      const ended = await b.go(tenantUrl("alpha", "/chat/42?view=full"));
      expect(ended.status).toBe(401);
      expect(ended.body).toContain("Your session has ended");
      const href = /<a href="([^"]+)">Sign in again/.exec(ended.body)![1]!.replace(/&amp;/g, "&");
      expect(href).toBe("/_edge/oidc/login?return=%2Fchat%2F42%3Fview%3Dfull");
      clock.offsetSec = 0;
      const back = await b.signIn(tenantUrl("alpha", href)); // the IdP session still stands: no password
      expect(back.status).toBe(200);
      expect(back.body).toContain("url=/chat/42?view=full");
    } finally {
      await edge.close();
    }
  });
});
