// What the browser suites share: a TLS certificate for *.octw.test, Debian's chromium driven by
// playwright-core with the tenant origins (and the IdP) mapped inside the browser only, the
// steps they take alike; and, for the two suites with an in-process edge, the harness: the test
// IdP (oidc-provider) with the tenant origins' callbacks and the real edge code (createEdge) with
// OIDC on a loopback port.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";
import { parseEdgeConfig } from "@octw/contracts";
import { createEdge, type EdgeServer } from "@octw/edge";
import { MemoryAudit } from "../../../packages/edge/test/helpers";
import { CLIENT_ID, CLIENT_SECRET, startTestIdp, type TestIdp } from "../../../packages/edge/test/oidc/idp";

export const DOMAIN = "octw.test";
export const CHROMIUM = process.env.OCTW_CHROMIUM ?? "/usr/bin/chromium";
export const SESSION_COOKIE = "__Host-octw_oidc";

/** The IdP groups that hold each tenant role (the test IdP's users: packages/edge/test/oidc/idp.ts). */
export const TENANT_ROLES = {
  alpha: { admin: ["alpha-admins"], member: ["alpha-members"], viewer: ["alpha-viewers"] },
  bravo: { admin: ["bravo-admins"], member: ["bravo-members"], viewer: ["bravo-viewers"] },
};

/** A page under test renders within seconds on a loaded 2-core machine, not within expect.poll's 1 s default. */
export const POLL = { timeout: 15_000, interval: 100 };

/** A browser with the tenant origins mapped, and the steps every browser suite takes. */
export interface BrowserKit {
  browser: Browser;
  url(tenant: string, path?: string): string;
  newContext(): Promise<BrowserContext>;
  snap(page: Page, name: string): Promise<void>;
  /** Fills the IdP's own login form (waits for it first). */
  idpLogin(page: Page, username: string, password: string, shotName?: string): Promise<void>;
  /** The IdP's issuer (its origin). */
  idpIssuer(): string;
  close(): Promise<void>;
}

export interface Harness extends BrowserKit {
  port: number;
  idp: TestIdp;
  edge: EdgeServer;
  audit: MemoryAudit;
  /** Seconds added to the edge's clock (to let a session expire). */
  clock: { offsetSec: number };
}

/** A self-signed certificate for `*.octw.test` (the tenant origins and the IdP), in a temporary directory. */
export function testCertificate(): { certFile: string; keyFile: string; cert: string; key: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "octw-oidc-e2e-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", `/CN=${DOMAIN}`, "-addext", `subjectAltName=DNS:*.${DOMAIN}`,
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  return { certFile, keyFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Debian's chromium with `hostRules` (chromium's --host-resolver-rules: the names resolve
 * inside this browser only), screenshots numbered in the order taken into `shots` (emptied first).
 */
export async function startBrowserKit(o: { shots: string; hostRules: string; origin: (tenant: string) => string; idpIssuer: () => string }): Promise<BrowserKit> {
  rmSync(o.shots, { recursive: true, force: true }); // this run's screenshots only
  mkdirSync(o.shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", `--host-resolver-rules=${o.hostRules}`],
  });
  let shot = 0;
  const kit: BrowserKit = {
    browser,
    url: (tenant, path = "/") => `${o.origin(tenant)}${path}`,
    newContext: () => browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 640 } }),
    snap: async (page, name) => {
      shot++;
      await page.screenshot({ path: join(o.shots, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: false });
    },
    idpLogin: async (page, username, password, shotName) => {
      await page.waitForURL((u) => u.origin === o.idpIssuer() && u.pathname.startsWith("/interaction/"));
      await page.fill('input[name="username"]', username);
      await page.fill('input[name="password"]', password);
      if (shotName) await kit.snap(page, shotName);
      await page.click('button[type="submit"]');
    },
    idpIssuer: o.idpIssuer,
    close: () => browser.close(),
  };
  return kit;
}

const onIdpSignIn = (kit: BrowserKit, u: URL) => u.origin === kit.idpIssuer() && u.pathname.startsWith("/interaction/");

/**
 * Step 5 of the suites, from the edge's "Sign out?" page: the sign-out ends the session at the
 * edge and (RP-initiated logout, the IdP's own confirmation) at the IdP; then the back button
 * returns to the tenant's pages, which need sign-in again. Returns the back-button trail.
 */
export async function signOutThenBack(kit: BrowserKit, page: Page): Promise<string[]> {
  await expect.poll(() => page.textContent("h1"), POLL).toBe("Sign out?");
  await page.click('button[type="submit"]');
  await page.waitForURL((u) => u.origin === kit.idpIssuer());
  await kit.snap(page, "idp-sign-out");
  await page.click('button[name="logout"]');
  await expect.poll(() => page.textContent("h1"), POLL).toBe("You are signed out");
  await kit.snap(page, "signed-out");
  expect((await page.context().cookies(page.url())).some((k) => k.name === SESSION_COOKIE)).toBe(false);
  const trail: string[] = [];
  for (let i = 0; i < 8 && !onIdpSignIn(kit, new URL(page.url())); i++) {
    await page.goBack({ waitUntil: "load" });
    trail.push(page.url());
  }
  console.log("back-button trail", trail);
  await page.waitForURL((u) => onIdpSignIn(kit, u));
  return trail;
}

/** A signed-out session's cookie replayed in a fresh browser: refused, "Your session has ended". */
export async function replayedCookieRefused(kit: BrowserKit, tenant: string, cookie: string): Promise<void> {
  const thief = await kit.newContext();
  await thief.addCookies([{ name: SESSION_COOKIE, value: cookie, url: kit.url(tenant), secure: true, httpOnly: true, sameSite: "Strict" }]);
  const p = await thief.newPage();
  const r = await p.goto(kit.url(tenant, "/"));
  expect(r!.status()).toBe(401);
  expect(await p.textContent("h1")).toBe("Your session has ended");
  await kit.snap(p, "replayed-cookie-refused");
  await thief.close();
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
  // The session cookie is __Host- (Secure): the edge speaks TLS, with a certificate made here.
  const tls = testCertificate();
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
    listen: { host: listenHost, port, tls: { certFile: tls.certFile, keyFile: tls.keyFile } },
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
      tenants: TENANT_ROLES,
    },
  });
  const edge = await createEdge(config, {
    audit,
    tls: { cert: tls.cert, key: tls.key },
    nowSec: () => Math.floor(Date.now() / 1000) + clock.offsetSec,
    oidc: { sessionKey: randomBytes(32), clientSecret: CLIENT_SECRET },
  });
  await edge.listen();
  const kit = await startBrowserKit({ shots: o.shots, hostRules: `MAP *.${DOMAIN} ${listenHost}`, origin: (t) => `https://${t}.${DOMAIN}:${port}`, idpIssuer: () => idp.issuer });
  return {
    ...kit,
    port,
    idp,
    edge,
    audit,
    clock,
    close: async () => {
      await kit.close();
      await edge.close();
      await idp.close();
      tls.remove();
    },
  };
}
