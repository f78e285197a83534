// The sign-in gate's session opening (oidc/gate.ts) without an IdP: sessions are sealed here with
// the gate's key, so every field of a session can be set to exactly what a rule is about. The
// IdP is unreachable (a closed loopback port): whatever needs it answers as when the IdP is down.
// The flows through a real IdP are relying-party.test.ts.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { oidcConfigSchema } from "@octw/contracts";
import { FLOW_COOKIE, SESSION_COOKIE, createOidcGate, isNavigation, safeReturnPath, type OidcAuditFields } from "../../src/oidc/gate";
import { Sealer } from "../../src/oidc/seal";

const NOW = 1_800_000_000;
const ORIGIN = "https://alpha.octw.test";
const KEY = randomBytes(32);
const sealer = new Sealer(KEY);
const oidc = oidcConfigSchema().parse({ issuer: "http://127.0.0.1:1", allowHttpLoopback: true, clientId: "octw-edge", tenants: { alpha: { member: ["g"] } }, timeoutMs: 500 });

function setup() {
  const audit: OidcAuditFields[] = [];
  const ended: string[] = [];
  const gate = createOidcGate(oidc, { sessionKey: KEY, nowSec: () => NOW, scheme: "https", audit: (_req, f) => (audit.push(f), true), onSessionEnded: (sid) => ended.push(sid) });
  return { gate, audit, ended };
}

function req(o: { cookie?: string; host?: string; method?: string; url?: string; headers?: Record<string, string> } = {}): IncomingMessage {
  return { method: o.method ?? "GET", url: o.url ?? "/", headers: { host: o.host ?? "alpha.octw.test", ...(o.cookie !== undefined ? { cookie: o.cookie } : {}), ...o.headers } } as unknown as IncomingMessage;
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}
function res(): { res: ServerResponse; answer: Answer } {
  const answer: Answer = { status: 0, headers: {}, body: "" };
  const r = {
    writeHead(status: number, headers: Record<string, unknown>) {
      answer.status = status;
      answer.headers = headers;
      return r;
    },
    end(body?: string) {
      answer.body = body ?? "";
    },
  };
  return { res: r as unknown as ServerResponse, answer };
}

const session = (over: Record<string, unknown> = {}) => ({ v: 1, sid: "sid-1", sub: "mia", tenant: "alpha", roles: ["member"], iat: NOW - 100, exp: NOW + 1_000, chk: NOW + 60, ...over });
const cookieOf = (payload: unknown, origin = ORIGIN, purpose: "session" | "flow" = "session") => `${SESSION_COOKIE}=${sealer.seal(purpose, origin, payload)}`;

describe("opening a session cookie (authenticate)", () => {
  it("control: a well-formed session of this tenant opens, valid until its re-check", async () => {
    const { gate } = setup();
    expect(await gate.authenticate(req({ cookie: `a=1; ${cookieOf(session())}` }), "alpha")).toEqual({ kind: "ok", sid: "sid-1", sub: "mia", tenant: "alpha", roles: ["member"], exp: NOW + 60 });
  });

  it("no cookie, or the cookie twice (cookie tossing): no session at all", async () => {
    const { gate } = setup();
    expect(await gate.authenticate(req(), "alpha")).toEqual({ kind: "none" });
    expect(await gate.authenticate(req({ cookie: "other=1" }), "alpha")).toEqual({ kind: "none" });
    const c = cookieOf(session());
    expect(await gate.authenticate(req({ cookie: `${c}; ${c}` }), "alpha")).toEqual({ kind: "none" });
    // a cookie whose name only starts like it is another cookie; a part without "=" is no cookie
    expect(await gate.authenticate(req({ cookie: `${SESSION_COOKIE}x=1` }), "alpha")).toEqual({ kind: "none" });
    expect(await gate.authenticate(req({ cookie: `${SESSION_COOKIE}x` }), "alpha")).toEqual({ kind: "none" });
    // blanks around the value are not part of it
    expect((await gate.authenticate(req({ cookie: `${SESSION_COOKIE}=  ${sealer.seal("session", ORIGIN, session())}  ` }), "alpha")).kind).toBe("ok");
    // the names: `__Host-` makes browsers keep them host-only, Secure, Path=/
    expect([SESSION_COOKIE, FLOW_COOKIE]).toEqual(["__Host-octw_oidc", "__Host-octw_oidc_flow"]);
  });

  it("garbage, another origin's, a login-flow cookie or another tenant's session: invalid", async () => {
    const { gate } = setup();
    const invalid = { kind: "ended", reason: "oidc_session_invalid" };
    expect(await gate.authenticate(req({ cookie: `${SESSION_COOKIE}=garbage` }), "alpha")).toEqual(invalid);
    expect(await gate.authenticate(req({ cookie: cookieOf(session(), "https://bravo.octw.test") }), "alpha")).toEqual(invalid);
    expect(await gate.authenticate(req({ cookie: cookieOf(session(), ORIGIN, "flow") }), "alpha")).toEqual(invalid);
    expect(await gate.authenticate(req({ cookie: cookieOf(session({ tenant: "bravo" })) }), "alpha")).toEqual(invalid);
    // the origin is the Host the request came with
    expect(await gate.authenticate(req({ cookie: cookieOf(session()), host: "bravo.octw.test" }), "alpha")).toEqual(invalid);
  });

  it("every field of the session must have its type: one wrong field makes it invalid", async () => {
    const { gate } = setup();
    const wrong: Record<string, unknown>[] = [
      { v: 2 }, { sid: 1 }, { sub: null }, { tenant: 5 }, { roles: "member" }, { roles: [1] }, { roles: ["member", 1] }, { iat: "1" }, { exp: "x" }, { chk: null }, { rt: 7 },
    ];
    for (const w of wrong) {
      expect(await gate.authenticate(req({ cookie: cookieOf(session(w)) }), "alpha"), JSON.stringify(w)).toEqual({ kind: "ended", reason: "oidc_session_invalid" });
    }
    for (const bad of [null, "s", 5, []]) {
      expect(await gate.authenticate(req({ cookie: cookieOf(bad) }), "alpha"), JSON.stringify(bad)).toEqual({ kind: "ended", reason: "oidc_session_invalid" });
    }
    // control: an optional refresh token that is a string is fine
    expect((await gate.authenticate(req({ cookie: cookieOf(session({ rt: "rt-1" })) }), "alpha")).kind).toBe("ok");
  });

  it("expiry at the second: exp is the end; without a refresh token the re-check is the end", async () => {
    const { gate } = setup();
    expect((await gate.authenticate(req({ cookie: cookieOf(session({ exp: NOW + 1, chk: NOW + 1 })) }), "alpha")).kind).toBe("ok");
    expect(await gate.authenticate(req({ cookie: cookieOf(session({ exp: NOW, chk: NOW + 60 })) }), "alpha")).toEqual({ kind: "ended", reason: "oidc_session_expired", sub: "mia" });
    expect(await gate.authenticate(req({ cookie: cookieOf(session({ chk: NOW })) }), "alpha")).toEqual({ kind: "ended", reason: "oidc_session_expired", sub: "mia" });
  });

  it("a re-check that is due goes to the IdP; an unreachable IdP ends the session (fail closed)", async () => {
    const { gate } = setup();
    expect(await gate.authenticate(req({ cookie: cookieOf(session({ chk: NOW, rt: "rt-1" })) }), "alpha")).toMatchObject({ kind: "ended", sub: "mia" });
  });
});

describe("sign-out", () => {
  it("ends the session here at once, tells the edge, audits it; from another origin it is refused", async () => {
    const { gate, audit, ended } = setup();
    const c = cookieOf(session());
    const cross = res();
    await gate.handle(req({ method: "POST", cookie: c, headers: { origin: "https://evil.example" } }), cross.res, "alpha", "/_edge/oidc/logout");
    expect(cross.answer.status).toBe(403);
    expect((await gate.authenticate(req({ cookie: c }), "alpha")).kind).toBe("ok");
    const out = res();
    await gate.handle(req({ method: "POST", cookie: c, headers: { origin: ORIGIN } }), out.res, "alpha", "/_edge/oidc/logout");
    // the IdP is down: the signed-out page, with the session cookie cleared
    expect(out.answer.status).toBe(200);
    expect(out.answer.headers["set-cookie"]).toBe(gate.clearSessionCookie);
    expect(ended).toEqual(["sid-1"]);
    expect(audit).toContainEqual({ tenant: "alpha", actor: "mia", role: null, reason: "oidc_signout", status: 303, allowed: true });
    expect(await gate.authenticate(req({ cookie: c }), "alpha")).toEqual({ kind: "ended", reason: "oidc_session_signed_out", sub: "mia" });
  });
});

describe("the gate's routes and answers", () => {
  it("only its routes with their methods; everything else is a 404 page", async () => {
    const { gate } = setup();
    expect(gate.isLocal("/_edge/oidc/login")).toBe(true);
    expect(gate.isLocal("/_edge/oidcx")).toBe(false);
    expect(gate.isLocal("/app")).toBe(false);
    const at = async (method: string, path: string) => {
      const r = res();
      await gate.handle(req({ method, url: path }), r.res, "alpha", path);
      return r.answer;
    };
    expect((await at("GET", "/_edge/oidc/logout")).status).toBe(200);
    const signedOut = await at("GET", "/_edge/oidc/signed-out");
    expect(signedOut.status).toBe(200);
    expect(signedOut.headers["set-cookie"]).toBe(gate.clearSessionCookie);
    expect((await at("POST", "/_edge/oidc/login")).status).toBe(404);
    expect((await at("POST", "/_edge/oidc/callback")).status).toBe(404);
    expect((await at("GET", "/_edge/oidc/other")).status).toBe(404);
    // login with the IdP down: the IdP-unavailable page, no redirect
    expect((await at("GET", "/_edge/oidc/login")).status).toBe(503);
  });

  it("pages are not framed, not cached, and only submit to this origin and the IdP", async () => {
    const { gate } = setup();
    const r = res();
    await gate.handle(req(), r.res, "alpha", "/_edge/oidc/logout");
    expect(r.answer.headers).toMatchObject({ "x-frame-options": "DENY", "cache-control": "no-store", "content-type": "text/html; charset=utf-8" });
    expect(r.answer.headers["content-security-policy"]).toBe("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:1; frame-ancestors 'none'");
    expect(r.answer.headers["content-length"]).toBe(Buffer.byteLength(r.answer.body));
  });

  it("a callback without a login in progress fails, is audited, and clears the flow cookie", async () => {
    const { gate, audit } = setup();
    const r = res();
    await gate.handle(req({ url: "/_edge/oidc/callback?code=c&state=s" }), r.res, "alpha", "/_edge/oidc/callback");
    expect(r.answer.status).toBe(400);
    expect(r.answer.headers["set-cookie"]).toBe(`${FLOW_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`);
    expect(audit).toContainEqual({ tenant: "alpha", actor: null, role: null, reason: "oidc_no_login_in_progress", status: 400, allowed: false });
  });

  it("a timed-out login is refused, and a flow sealed for another origin is no login at all", async () => {
    const { gate, audit } = setup();
    const flow = { v: 1, state: "s", nonce: "n", verifier: "v", ret: "/", exp: NOW };
    const at = async (cookie: string) => {
      const r = res();
      await gate.handle(req({ url: "/_edge/oidc/callback?code=c&state=s", cookie }), r.res, "alpha", "/_edge/oidc/callback");
      return r.answer.status;
    };
    expect(await at(`${FLOW_COOKIE}=${sealer.seal("flow", ORIGIN, flow)}`)).toBe(400);
    expect(audit.at(-1)?.reason).toBe("oidc_login_timed_out");
    expect(await at(`${FLOW_COOKIE}=${sealer.seal("flow", "https://bravo.octw.test", { ...flow, exp: NOW + 60 })}`)).toBe(400);
    expect(audit.at(-1)?.reason).toBe("oidc_no_login_in_progress");
    // every field of a flow must have its type (the IdP is down: a flow taken as valid would end as idp_unreachable)
    for (const w of [{ v: 2 }, { state: 1 }, { nonce: null }, { verifier: 5 }, { ret: [] }, { exp: "later" }]) {
      expect(await at(`${FLOW_COOKIE}=${sealer.seal("flow", ORIGIN, { ...flow, exp: NOW + 60, ...w })}`)).toBe(400);
      expect(audit.at(-1)?.reason, JSON.stringify(w)).toBe("oidc_no_login_in_progress");
    }
    for (const bad of [null, "flow", 5]) {
      expect(await at(`${FLOW_COOKIE}=${sealer.seal("flow", ORIGIN, bad)}`)).toBe(400);
      expect(audit.at(-1)?.reason, JSON.stringify(bad)).toBe("oidc_no_login_in_progress");
    }
    // control: a well-formed, current flow goes on to the IdP (down here)
    expect(await at(`${FLOW_COOKIE}=${sealer.seal("flow", ORIGIN, { ...flow, exp: NOW + 60 })}`)).toBe(400);
    expect(audit.at(-1)?.reason).toBe("idp_unreachable");
  });

  it("sign-in required: a redirect to login for no session; a cleared cookie and the right page otherwise", () => {
    const { gate } = setup();
    const none = gate.signInRequired(req({ url: "/chat?x=1" }), { kind: "none" }, "alpha");
    expect(none.status).toBe(302);
    expect(none.headers.location).toBe(`/_edge/oidc/login?return=${encodeURIComponent("/chat?x=1")}`);
    expect(none.headers["set-cookie"]).toBeUndefined();
    const ended = gate.signInRequired(req({ url: "/chat" }), { kind: "ended", reason: "oidc_session_expired" }, "alpha");
    expect(ended.status).toBe(401);
    expect(ended.headers["set-cookie"]).toBe(gate.clearSessionCookie);
    const noAccess = gate.signInRequired(req(), { kind: "no_access", reason: "no_mapped_group", sub: "mia" }, "alpha");
    expect(noAccess.status).toBe(403);
    expect(noAccess.headers["set-cookie"]).toBe(gate.clearSessionCookie);
    expect(gate.clearSessionCookie).toBe(`${SESSION_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict`);
  });
});

describe("isNavigation", () => {
  it("top-level page loads only: GET/HEAD, no upgrade, Sec-Fetch-Mode navigate, else an HTML Accept", () => {
    const nav = (method: string, headers: Record<string, string>) => isNavigation(req({ method, headers }));
    expect(nav("GET", { "sec-fetch-mode": "navigate" })).toBe(true);
    expect(nav("HEAD", { "sec-fetch-mode": "navigate" })).toBe(true);
    expect(nav("POST", { "sec-fetch-mode": "navigate" })).toBe(false);
    expect(nav("GET", { "sec-fetch-mode": "cors", accept: "text/html" })).toBe(false);
    expect(nav("GET", { "sec-fetch-mode": "navigate", upgrade: "websocket" })).toBe(false);
    expect(nav("GET", { accept: "text/html,application/xhtml+xml" })).toBe(true);
    expect(nav("GET", { accept: "application/json" })).toBe(false);
    expect(nav("GET", { accept: "text/htmlx" })).toBe(false);
    expect(nav("GET", {})).toBe(false);
  });
});

describe("safeReturnPath bound", () => {
  it("a same-origin path of up to 2048 characters is kept, a longer one becomes /", () => {
    const at = `/${"a".repeat(2_047)}`;
    expect(safeReturnPath(at)).toBe(at);
    expect(safeReturnPath(`${at}a`)).toBe("/");
  });
});
