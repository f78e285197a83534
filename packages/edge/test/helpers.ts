// Test helpers: a token issuer with real keys, and loopback upstreams that record what they get.
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from "jose";
import { WebSocketServer, type WebSocket } from "ws";
import type { AuditSink, EdgeAuditEvent } from "../src/audit";

export const ISSUER = "https://issuer.test";
export const AUDIENCE = "octw-edge";

export interface Issuer {
  alg: "ES256" | "RS256" | "EdDSA";
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
  sign(claims: JWTPayload, opts?: { kid?: string | null; alg?: string; expSec?: number; nbf?: number; iss?: string; aud?: string }): Promise<string>;
}

export async function makeIssuer(alg: Issuer["alg"] = "ES256", kid = `k-${alg}`): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  const publicPem = await exportSPKI(publicKey);
  return {
    alg,
    kid,
    privateKey,
    publicJwk,
    publicPem,
    async sign(claims, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const header: { alg: string; kid?: string } = { alg };
      if (opts.kid !== null) header.kid = opts.kid ?? kid;
      const jwt = new SignJWT(claims)
        .setProtectedHeader(header)
        .setIssuer(opts.iss ?? ISSUER)
        .setAudience(opts.aud ?? AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + (opts.expSec ?? 300));
      if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
      return jwt.sign(privateKey);
    },
  };
}

const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** A token with `alg: none` and no signature. */
export function unsignedToken(payload: JWTPayload): string {
  return `${b64u({ alg: "none", typ: "JWT" })}.${b64u(payload)}.`;
}

/** Replaces the payload of a signed token, keeping header and signature. */
export function tamper(token: string, payload: JWTPayload): string {
  const [h, , s] = token.split(".");
  return `${h}.${b64u(payload)}.${s}`;
}

export function claims(tenant: string | undefined, role: unknown, sub = "alice@example.test"): JWTPayload {
  const c: JWTPayload = { sub };
  if (tenant !== undefined) c.tenant = tenant;
  if (role !== undefined) c.role = role;
  return c;
}

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RecordingUpstream {
  url: string;
  port: number;
  requests: Recorded[];
  upgrades: Recorded[];
  sockets: Set<WebSocket>;
  /** Delay before answering /slow requests. */
  slowMs: number;
  close(): Promise<void>;
}

/** An upstream that answers every request with JSON naming itself and records what it got. */
export async function recordingUpstream(name: string): Promise<RecordingUpstream> {
  const requests: Recorded[] = [];
  const upgrades: Recorded[] = [];
  const sockets = new Set<WebSocket>();
  const self: { slowMs: number } = { slowMs: 300 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rec = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(rec);
      const answer = () => {
        res.setHeader("content-type", "application/json");
        res.setHeader("set-cookie", ["ok_cookie=1; Path=/", "evil=1; Domain=example.test; Path=/", "octw_session=forged; Path=/"]);
        res.end(JSON.stringify({ upstream: name, url: req.url }));
      };
      if (req.url?.startsWith("/slow")) setTimeout(answer, self.slowMs);
      else answer();
    });
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has("openclaw") ? "openclaw" : false) });
  server.on("upgrade", (req, socket, head) => {
    upgrades.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" });
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      ws.on("message", (data: Buffer, isBinary) => ws.send(isBinary ? data : `${name}:${data.toString("utf8")}`, { binary: isBinary }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(self, {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    upgrades,
    sockets,
    close: async () => {
      for (const s of sockets) s.terminate();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

/** An audit sink that keeps events in memory; `failing` makes record() reject. */
export class MemoryAudit implements AuditSink {
  events: EdgeAuditEvent[] = [];
  failing = false;
  record(e: EdgeAuditEvent): Promise<void> {
    if (this.failing) return Promise.reject(new Error("audit store down"));
    this.events.push(e);
    return Promise.resolve();
  }
  async waitFor(pred: (e: EdgeAuditEvent) => boolean, timeoutMs = 2_000): Promise<EdgeAuditEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no audit event matched; have ${JSON.stringify(this.events.map((e) => [e.type, e.detail.reason]))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export { freePort } from "../../../test/support/free-port";
