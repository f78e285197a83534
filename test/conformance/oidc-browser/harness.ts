// What both browser suites share: a TLS certificate for *.octw.test, the test IdP
// (oidc-provider) with the tenant origins' callbacks, the real edge code (createEdge) with OIDC
// on a loopback port, and Debian's chromium driven by playwright-core with `*.octw.test` mapped
// to loopback inside the browser only.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { parseEdgeConfig } from "@octw/contracts";
import { createEdge, type EdgeServer } from "@octw/edge";
import { MemoryAudit } from "../../../packages/edge/test/helpers";
import { CLIENT_ID, CLIENT_SECRET, startTestIdp, type TestIdp } from "../../../packages/edge/test/oidc/idp";

export const DOMAIN = "octw.test";
export const CHROMIUM = process.env.OCTW_CHROMIUM ?? "/usr/bin/chromium";
export const SESSION_COOKIE = "__Host-octw_oidc";

export interface Harness {
  port: number;
  idp: TestIdp;
  edge: EdgeServer;
  browser: Browser;
  audit: MemoryAudit;
  /** Seconds added to the edge's clock (to let a session expire). */
  clock: { offsetSec: number };
  url(tenant: string, path?: string): string;
  newContext(): Promise<BrowserContext>;
  snap(page: Page, name: string): Promise<void>;
  /** Fills the IdP's own login form (waits for it first). */
  idpLogin(page: Page, username: string, password: string, shotName?: string): Promise<void>;
  close(): Promise<void>;
}

/** A free loopback port: bound, read, released (the IdP must know the edge's origins first). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, host, r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

export async function startHarness(o: {
  shots: string;
  port?: number;
  upstreams: Record<"alpha" | "bravo", string>;
  sessionMaxSec?: number;
  /**
   * Address the edge listens on and the browser reaches the tenant origins at (default
   * 127.0.0.1). OpenClaw refuses a loopback client address forwarded by its trusted proxy, so
   * the suite with a real gateway uses the host side of a bridge it creates.
   */
  listenHost?: string;
}): Promise<Harness> {
  rmSync(o.shots, { recursive: true, force: true }); // this run's screenshots only
  mkdirSync(o.shots, { recursive: true });
  // The session cookie is __Host- (Secure): the edge speaks TLS, with a certificate made here.
  const certDir = mkdtempSync(join(tmpdir(), "octw-oidc-e2e-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", `/CN=${DOMAIN}`, "-addext", `subjectAltName=DNS:*.${DOMAIN}`,
    "-keyout", join(certDir, "key.pem"), "-out", join(certDir, "cert.pem"),
  ], { stdio: "ignore" });
  const listenHost = o.listenHost ?? "127.0.0.1";
  const port = o.port ?? (await freePort(listenHost));
  const origins = ["alpha", "bravo"].map((t) => `https://${t}.${DOMAIN}:${port}`);
  const idp = await startTestIdp({
    redirectUris: origins.map((x) => `${x}/_edge/oidc/callback`),
    postLogoutRedirectUris: origins.map((x) => `${x}/_edge/oidc/signed-out`),
  });
  const clock = { offsetSec: 0 };
  const audit = new MemoryAudit();
  const config = parseEdgeConfig({
    listen: { host: listenHost, port, tls: { certFile: join(certDir, "cert.pem"), keyFile: join(certDir, "key.pem") } },
    routing: { hostDomain: DOMAIN },
    tenants: [
      { id: "alpha", upstream: o.upstreams.alpha },
      { id: "bravo", upstream: o.upstreams.bravo },
    ],
    // Machine clients' bearer tokens (not used by these suites; unchanged by OIDC).
    jwt: { issuer: "https://issuer.e2e.test", audience: "octw-edge", algorithms: ["ES256"], keys: { kind: "jwks-url", url: "https://issuer.e2e.test/jwks.json" } },
    oidc: {
      issuer: idp.issuer,
      allowHttpLoopback: true,
      clientId: CLIENT_ID,
      clientSecretFile: "/run/secrets/unused-in-this-test",
      prompt: "consent",
      sessionMaxSec: o.sessionMaxSec ?? 300,
      tenants: {
        alpha: { admin: ["alpha-admins"], member: ["alpha-members"], viewer: ["alpha-viewers"] },
        bravo: { admin: ["bravo-admins"], member: ["bravo-members"], viewer: ["bravo-viewers"] },
      },
    },
  });
  const edge = await createEdge(config, {
    audit,
    tls: { cert: readFileSync(join(certDir, "cert.pem"), "utf8"), key: readFileSync(join(certDir, "key.pem"), "utf8") },
    nowSec: () => Math.floor(Date.now() / 1000) + clock.offsetSec,
    oidc: { sessionKey: randomBytes(32), clientSecret: CLIENT_SECRET },
  });
  await edge.listen();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
      `--host-resolver-rules=MAP *.${DOMAIN} ${listenHost}`,
    ],
  });
  let shot = 0;
  const h: Harness = {
    port,
    idp,
    edge,
    browser,
    audit,
    clock,
    url: (tenant, path = "/") => `https://${tenant}.${DOMAIN}:${port}${path}`,
    newContext: () => browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 640 } }),
    snap: async (page, name) => {
      shot++;
      await page.screenshot({ path: join(o.shots, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: false });
    },
    idpLogin: async (page, username, password, shotName) => {
      await page.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith("/interaction/"));
      await page.fill('input[name="username"]', username);
      await page.fill('input[name="password"]', password);
      if (shotName) await h.snap(page, shotName);
      await page.click('button[type="submit"]');
    },
    close: async () => {
      await browser.close();
      await edge.close();
      await idp.close();
      rmSync(certDir, { recursive: true, force: true });
    },
  };
  return h;
}
