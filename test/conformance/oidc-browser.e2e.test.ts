// Browser end to end: Debian's chromium (installed by scripts/test-env.sh), driven by
// playwright-core, signs people in through the edge with a real OpenID provider (oidc-provider,
// username + password on its own page). The edge is the real edge code (createEdge, TLS on a
// loopback port, OIDC configured as a deployment would), `*.octw.test` mapped to loopback inside
// the browser only. Tenants are stand-in gateways (oidc-browser/standin-gateway.ts) that trust
// the edge's identity headers like OpenClaw's trusted-proxy mode and chat through a fake model
// provider. Every step saves a screenshot under reports/oidc-browser/.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdge, parseEdgeConfig, type EdgeServer } from "@octw/edge";
import { MemoryAudit } from "../../packages/edge/test/helpers";
import { CLIENT_ID, CLIENT_SECRET, startTestIdp, type TestIdp } from "../../packages/edge/test/oidc/idp";
import { startFakeProvider, startStandinGateway, type StandinGateway } from "./oidc-browser/standin-gateway";

const DOMAIN = "octw.test";
const SHOTS = join(process.cwd(), "reports", "oidc-browser");
const CHROMIUM = process.env.OCTW_CHROMIUM ?? "/usr/bin/chromium";
const SESSION_MAX_SEC = 300;

let port = 0;
let idp: TestIdp;
let edge: EdgeServer;
let browser: Browser;
let provider: Awaited<ReturnType<typeof startFakeProvider>>;
const gw: Record<"alpha" | "bravo", StandinGateway> = {} as Record<"alpha" | "bravo", StandinGateway>;
const clock = { offsetSec: 0 };
const audit = new MemoryAudit();
let certDir = "";
const t0 = Date.now();

const url = (tenant: string, path = "/") => `https://${tenant}.${DOMAIN}:${port}${path}`;
let shot = 0;
async function snap(page: Page, name: string): Promise<void> {
  shot++;
  await page.screenshot({ path: join(SHOTS, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

async function newContext(): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 900, height: 600 } });
}

/** Fills the IdP's own login form. */
async function idpLogin(page: Page, username: string, password: string, shotName?: string): Promise<void> {
  await page.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith("/interaction/"));
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  if (shotName) await snap(page, shotName);
  await page.click('button[type="submit"]');
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A certificate for *.octw.test: the session cookie is __Host- (Secure), so the edge speaks TLS.
  certDir = mkdtempSync(join(tmpdir(), "octw-oidc-e2e-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", `/CN=${DOMAIN}`, "-addext", `subjectAltName=DNS:*.${DOMAIN}`,
    "-keyout", join(certDir, "key.pem"), "-out", join(certDir, "cert.pem"),
  ], { stdio: "ignore" });
  // The edge's port first: the IdP registers the tenant origins' callbacks, which include it.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const origins = ["alpha", "bravo"].map((t) => `https://${t}.${DOMAIN}:${port}`);
  idp = await startTestIdp({
    redirectUris: origins.map((o) => `${o}/_edge/oidc/callback`),
    postLogoutRedirectUris: origins.map((o) => `${o}/_edge/oidc/signed-out`),
  });
  provider = await startFakeProvider();
  gw.alpha = await startStandinGateway("alpha", provider.url);
  gw.bravo = await startStandinGateway("bravo", provider.url);
  const config = parseEdgeConfig({
    listen: { host: "127.0.0.1", port, tls: { certFile: join(certDir, "cert.pem"), keyFile: join(certDir, "key.pem") } },
    routing: { hostDomain: DOMAIN },
    tenants: [
      { id: "alpha", upstream: gw.alpha.url },
      { id: "bravo", upstream: gw.bravo.url },
    ],
    // Machine clients' bearer tokens (unused here, unchanged by OIDC).
    jwt: { issuer: "https://issuer.e2e.test", audience: "octw-edge", algorithms: ["ES256"], keys: { kind: "jwks-url", url: "https://issuer.e2e.test/jwks.json" } },
    oidc: {
      issuer: idp.issuer,
      allowHttpLoopback: true,
      clientId: CLIENT_ID,
      clientSecretFile: "/run/secrets/unused-in-this-test",
      prompt: "consent",
      sessionMaxSec: SESSION_MAX_SEC,
      tenants: {
        alpha: { admin: ["alpha-admins"], member: ["alpha-members"], viewer: ["alpha-viewers"] },
        bravo: { admin: ["bravo-admins"], member: ["bravo-members"], viewer: ["bravo-viewers"] },
      },
    },
  });
  edge = await createEdge(config, {
    audit,
    tls: { cert: readFileSync(join(certDir, "cert.pem"), "utf8"), key: readFileSync(join(certDir, "key.pem"), "utf8") },
    nowSec: () => Math.floor(Date.now() / 1000) + clock.offsetSec,
    oidc: { sessionKey: randomBytes(32), clientSecret: CLIENT_SECRET },
  });
  await edge.listen();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
      // The tenant origins resolve to the edge on loopback, in this browser only.
      `--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`,
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await edge?.close();
  await Promise.all([gw.alpha?.close(), gw.bravo?.close(), provider?.close(), idp?.close()]);
  if (certDir) rmSync(certDir, { recursive: true, force: true });
  console.log(`oidc browser suite: ${((Date.now() - t0) / 1000).toFixed(1)} s wall, screenshots in ${SHOTS}`);
});

describe("a person signs in through the edge with the organization's IdP", () => {
  let mia: BrowserContext;
  let miaPage: Page;
  let miaCookie = "";

  it("1. a member of alpha opens alpha's URL, signs in on the IdP's page with username and password, and alpha's UI loads", async () => {
    mia = await newContext();
    miaPage = await mia.newPage();
    await miaPage.goto(url("alpha", "/"));
    await idpLogin(miaPage, "mia", "mia-pass-1", "idp-sign-in");
    await miaPage.waitForURL(url("alpha", "/"));
    await expect.poll(() => miaPage.textContent("#user")).toBe("mia");
    expect(await miaPage.textContent("#scopes")).toBe("operator.read,operator.write");
    await expect.poll(() => miaPage.getAttribute("#status", "data-ws")).toBe("open");
    await snap(miaPage, "alpha-ui-member");
    const c = (await mia.cookies(url("alpha"))).find((k) => k.name === "__Host-octw_oidc")!;
    expect(c).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/", domain: `alpha.${DOMAIN}` });
    miaCookie = c.value;
  });

  it("2. the member sends a chat message; the fake provider's answer appears on the page", async () => {
    await miaPage.fill("#msg", "hello from mia");
    await miaPage.click("#send");
    await expect.poll(() => miaPage.textContent("#log")).toContain('fake-provider says: you wrote "hello from mia"');
    expect(provider.calls).toContain("hello from mia");
    await snap(miaPage, "alpha-chat-answer");
  });

  it("3. the same person opens bravo's URL: the no-access page, and nothing of bravo's is loaded", async () => {
    const before = gw.bravo.requests.length;
    const p = await mia.newPage();
    await p.goto(url("bravo", "/"));
    // Single sign-on at the IdP: no password asked, straight back to bravo's callback.
    await expect.poll(() => p.textContent("h1")).toBe("You have no access to this tenant");
    await snap(p, "bravo-no-access");
    expect(gw.bravo.requests.length).toBe(before);
    expect(audit.events.some((e) => e.actor === "mia" && e.tenant === "bravo" && e.detail.reason === "oidc_no_access:no_mapped_group")).toBe(true);
    await p.close();
  });

  it("4. a viewer of alpha sees the conversation but cannot send", async () => {
    const vic = await newContext();
    const p = await vic.newPage();
    await p.goto(url("alpha", "/"));
    await idpLogin(p, "vic", "vic-pass-1");
    await p.waitForURL(url("alpha", "/"));
    await expect.poll(() => p.textContent("#log")).toContain("hello from mia");
    expect(await p.isDisabled("#send")).toBe(true);
    // Even past the disabled button (a crafted message on the socket), the gateway refuses it:
    // the scopes the edge sent say viewer.
    await p.evaluate("document.getElementById('send').removeAttribute('disabled')");
    expect(await p.isDisabled("#send")).toBe(false);
    await p.fill("#msg", "viewer trying to write");
    await p.click("#send");
    await expect.poll(() => p.textContent("#log")).toContain("refused: missing scope: operator.write");
    expect(provider.calls).not.toContain("viewer trying to write");
    await snap(p, "alpha-viewer-cannot-send");
    await vic.close();
  });

  it("5. sign-out (also at the IdP); then the back button and a replayed session cookie both need sign-in again", async () => {
    await miaPage.click("#signout");
    await expect.poll(() => miaPage.textContent("h1")).toBe("Sign out?");
    await miaPage.click('button[type="submit"]');
    // RP-initiated logout: the IdP's own confirmation.
    await miaPage.waitForURL((u) => u.origin === idp.issuer);
    await snap(miaPage, "idp-sign-out");
    await miaPage.click('button[name="logout"]');
    await expect.poll(() => miaPage.textContent("h1")).toBe("You are signed out");
    await snap(miaPage, "signed-out");
    expect((await mia.cookies(url("alpha"))).some((k) => k.name === "__Host-octw_oidc")).toBe(false);
    const before = gw.alpha.requests.length;
    // Back, through the sign-out pages, to alpha's UI: it is loaded again and needs sign-in.
    const trail: string[] = [];
    for (let i = 0; i < 6; i++) {
      await miaPage.goBack({ waitUntil: "load" });
      trail.push(miaPage.url());
      if (new URL(miaPage.url()).origin === idp.issuer && new URL(miaPage.url()).pathname.startsWith("/interaction/")) break;
    }
    console.log("back-button trail", trail);
    await miaPage.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith("/interaction/"));
    expect(await miaPage.isVisible("#user")).toBe(false);
    await snap(miaPage, "back-button-sign-in-again");
    // The old cookie, replayed in a fresh browser: refused, the person is sent to sign in.
    const thief = await newContext();
    await thief.addCookies([{ name: "__Host-octw_oidc", value: miaCookie, url: url("alpha"), secure: true, httpOnly: true, sameSite: "Strict" }]);
    const p = await thief.newPage();
    const r = await p.goto(url("alpha", "/"));
    expect(r!.status()).toBe(401);
    expect(await p.textContent("h1")).toBe("Your session has ended");
    await snap(p, "replayed-cookie-refused");
    expect(gw.alpha.requests.length).toBe(before);
    await thief.close();
  });

  it("6. an expired session mid-use leads back through sign-in to where the person was", async () => {
    const p = miaPage;
    await idpLogin(p, "mia", "mia-pass-1");
    await p.waitForURL(url("alpha", "/"));
    await p.goto(url("alpha", "/threads/42?view=full"));
    await expect.poll(() => p.textContent("#user")).toBe("mia");
    clock.offsetSec = SESSION_MAX_SEC + 1; // the session's lifetime has passed
    await p.reload();
    await expect.poll(() => p.textContent("h1")).toBe("Your session has ended");
    await snap(p, "session-expired");
    clock.offsetSec = 0;
    await p.getByRole("link", { name: "Sign in again" }).click();
    // The IdP session still stands: no password, straight back (through the "Signed in" page).
    await p.waitForURL((u) => u.pathname === "/_edge/oidc/callback");
    await p.waitForURL(url("alpha", "/threads/42?view=full"));
    await expect.poll(() => p.textContent("#user")).toBe("mia");
    await snap(p, "back-where-she-was");
    await mia.close();
  });
});
