// Browser end to end: Debian's chromium (installed by scripts/test-env.sh), driven by
// playwright-core, signs people in through the edge with a real OpenID provider (oidc-provider,
// username + password on its own page). The edge is the real edge code (createEdge, TLS on a
// loopback port, OIDC configured as a deployment would), `*.octw.test` mapped to loopback inside
// the browser only. Tenants are stand-in gateways (oidc-browser/standin-gateway.ts) that trust
// the edge's identity headers like OpenClaw's trusted-proxy mode and chat through a fake model
// provider. Every step saves a screenshot under reports/oidc-browser/.
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOMAIN, POLL, SESSION_COOKIE, replayedCookieRefused, signOutThenBack, startHarness, type Harness } from "./oidc-browser/harness";
import { startFakeProvider, startStandinGateway, type StandinGateway } from "./oidc-browser/standin-gateway";

const SHOTS = join(process.cwd(), "reports", "oidc-browser", "standin");
const SESSION_MAX_SEC = 300;

let h: Harness;
let provider: Awaited<ReturnType<typeof startFakeProvider>>;
const gw = {} as Record<"alpha" | "bravo", StandinGateway>;
const t0 = Date.now();
const url = (tenant: string, path = "/") => h.url(tenant, path);

beforeAll(async () => {
  provider = await startFakeProvider();
  gw.alpha = await startStandinGateway("alpha", provider.url);
  gw.bravo = await startStandinGateway("bravo", provider.url);
  h = await startHarness({ shots: SHOTS, upstreams: { alpha: gw.alpha.url, bravo: gw.bravo.url }, sessionMaxSec: SESSION_MAX_SEC });
}, 120_000);

afterAll(async () => {
  await h?.close();
  await Promise.all([gw.alpha?.close(), gw.bravo?.close(), provider?.close()]);
  console.log(`oidc browser suite (stand-in gateways): ${((Date.now() - t0) / 1000).toFixed(1)} s wall, screenshots in ${SHOTS}`);
});

describe("a person signs in through the edge with the organization's IdP", () => {
  let mia: BrowserContext;
  let miaPage: Page;
  let miaCookie = "";

  it("1. a member of alpha opens alpha's URL, signs in on the IdP's page with username and password, and alpha's UI loads", async () => {
    mia = await h.newContext();
    miaPage = await mia.newPage();
    await miaPage.goto(url("alpha", "/"));
    await h.idpLogin(miaPage, "mia", "mia-pass-1", "idp-sign-in");
    await miaPage.waitForURL(url("alpha", "/"));
    await expect.poll(() => miaPage.textContent("#user"), POLL).toBe("mia");
    expect(await miaPage.textContent("#scopes")).toBe("operator.read,operator.write");
    await expect.poll(() => miaPage.getAttribute("#status", "data-ws"), POLL).toBe("open");
    await h.snap(miaPage, "alpha-ui-member");
    const c = (await mia.cookies(url("alpha"))).find((k) => k.name === SESSION_COOKIE)!;
    expect(c).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/", domain: `alpha.${DOMAIN}` });
    miaCookie = c.value;
  });

  it("2. the member sends a chat message; the fake provider's answer appears on the page", async () => {
    await miaPage.fill("#msg", "hello from mia");
    await miaPage.click("#send");
    await expect.poll(() => miaPage.textContent("#log"), POLL).toContain('fake-provider says: you wrote "hello from mia"');
    expect(provider.calls).toContain("hello from mia");
    await h.snap(miaPage, "alpha-chat-answer");
  });

  it("3. the same person opens bravo's URL: the no-access page, and nothing of bravo's is loaded", async () => {
    const before = gw.bravo.requests.length;
    const p = await mia.newPage();
    await p.goto(url("bravo", "/"));
    // Single sign-on at the IdP: no password asked, straight back to bravo's callback.
    await expect.poll(() => p.textContent("h1"), POLL).toBe("You have no access to this tenant");
    await h.snap(p, "bravo-no-access");
    expect(gw.bravo.requests.length).toBe(before);
    expect(h.audit.events.some((e) => e.actor === "mia" && e.tenant === "bravo" && e.detail.reason === "oidc_no_access:no_mapped_group")).toBe(true);
    await p.close();
  });

  it("4. a viewer of alpha sees the conversation but cannot send", async () => {
    const vic = await h.newContext();
    const p = await vic.newPage();
    await p.goto(url("alpha", "/"));
    await h.idpLogin(p, "vic", "vic-pass-1");
    await p.waitForURL(url("alpha", "/"));
    await expect.poll(() => p.textContent("#log"), POLL).toContain("hello from mia");
    expect(await p.isDisabled("#send")).toBe(true);
    // Even past the disabled button (a crafted message on the socket), the gateway refuses it:
    // the scopes the edge sent say viewer.
    await p.evaluate("document.getElementById('send').removeAttribute('disabled')");
    expect(await p.isDisabled("#send")).toBe(false);
    await p.fill("#msg", "viewer trying to write");
    await p.click("#send");
    await expect.poll(() => p.textContent("#log"), POLL).toContain("refused: missing scope: operator.write");
    expect(provider.calls).not.toContain("viewer trying to write");
    await h.snap(p, "alpha-viewer-cannot-send");
    await vic.close();
  });

  it("5. sign-out (also at the IdP); then the back button and a replayed session cookie both need sign-in again", async () => {
    await miaPage.click("#signout");
    const before = gw.alpha.requests.length;
    await signOutThenBack(h, miaPage);
    expect(await miaPage.isVisible("#user")).toBe(false);
    await h.snap(miaPage, "back-button-sign-in-again");
    await replayedCookieRefused(h, "alpha", miaCookie);
    // Neither reached alpha's gateway.
    expect(gw.alpha.requests.length).toBe(before);
  });

  it("6. an expired session mid-use leads back through sign-in to where the person was", async () => {
    const p = miaPage;
    await h.idpLogin(p, "mia", "mia-pass-1");
    await p.waitForURL(url("alpha", "/"));
    await p.goto(url("alpha", "/threads/42?view=full"));
    await expect.poll(() => p.textContent("#user"), POLL).toBe("mia");
    h.clock.offsetSec = SESSION_MAX_SEC + 1; // the session's lifetime has passed
    await p.reload();
    await expect.poll(() => p.textContent("h1"), POLL).toBe("Your session has ended");
    await h.snap(p, "session-expired");
    h.clock.offsetSec = 0;
    await p.getByRole("link", { name: "Sign in again" }).click();
    // The IdP session still stands: no password, straight back (through the "Signed in" page).
    // (The ended page has the same URL, so the UI's own element is what tells the pages apart.)
    await p.waitForSelector("#user:text-is('mia')", { timeout: 30_000 });
    expect(p.url()).toBe(url("alpha", "/threads/42?view=full"));
    await h.snap(p, "back-where-she-was");
    await mia.close();
  });
});
