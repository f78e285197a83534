// The edge terminating TLS itself (listen.tls): the certificate and key come from files, the
// key is a secret file, and the gateway is told the client used https.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEdgeConfig } from "@octw/contracts";
import { createEdge, type EdgeServer } from "../src/server";
import { AUDIENCE, ISSUER, MemoryAudit, claims, makeIssuer, recordingUpstream, type Issuer, type RecordingUpstream } from "./helpers";

let dir: string;
let edge: EdgeServer;
let port: number;
let upstream: RecordingUpstream;
let issuer: Issuer;
let cert: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-tls-"));
  // A throwaway self-signed certificate for a.octw.test (Node has no API to make one).
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-subj", "/CN=a.octw.test", "-addext", "subjectAltName=DNS:a.octw.test",
    "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  cert = readFileSync(path.join(dir, "cert.pem"), "utf8");
  upstream = await recordingUpstream("A");
  issuer = await makeIssuer("ES256");
  const config = parseEdgeConfig({
    listen: { host: "127.0.0.1", port: 0, publicScheme: "http", tls: { certFile: path.join(dir, "cert.pem"), keyFile: path.join(dir, "key.pem") } },
    routing: { hostDomain: "octw.test" },
    tenants: [{ id: "a", upstream: upstream.url }],
    jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], keys: { kind: "static", jwks: [issuer.publicJwk] } },
  });
  edge = await createEdge(config, { audit: new MemoryAudit(), tls: { cert, key: readFileSync(path.join(dir, "key.pem"), "utf8") } });
  port = (await edge.listen()).port;
});
afterAll(async () => {
  await edge?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    // Verified against the test certificate by name, as a browser would.
    const req = https.request({ host: "127.0.0.1", port, path: "/x", servername: "a.octw.test", ca: cert, headers: { host: "a.octw.test", ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("TLS at the edge", () => {
  it("serves https with the configured certificate, refuses without a token, proxies with one", async () => {
    expect(await get({})).toBe(401);
    expect(await get({ authorization: `Bearer ${await issuer.sign(claims("a", "viewer"))}` })).toBe(200);
    // publicScheme says http, but the edge itself spoke TLS: the gateway hears https.
    expect(upstream.requests.at(-1)?.headers["x-forwarded-proto"]).toBe("https");
  });
  it("plain HTTP on the TLS port gets no answer from the application", async () => {
    const http = await import("node:http");
    const status = await new Promise<number | string>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/", headers: { host: "a.octw.test" } }, (res) => resolve(res.statusCode ?? 0));
      req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
      req.end();
    });
    expect(status).not.toBe(401);
    expect(status).not.toBe(200);
  });
});
