// Issue 14's browser suite on the realized stack: OpenClawPlatform with alpha and bravo realized
// on the engine (oidc-browser/realized-stack.ts) — the edge from its image with the platform's
// OIDC section, real OpenClaw gateways, the inference router with each tenant's key, a fake
// model provider — driven by Debian's chromium through the edge with the organization's IdP
// (oidc-provider). Six steps, each with a screenshot in reports/oidc-browser/realized/.
//
// Needs: DOCKER_HOST, OCTW_TEST_OUTSIDE_ADDR, OCTW_CHROMIUM and the images OPENCLAW, EGRESS,
// POSTGRES, EDGE, INFERENCE_ROUTER. Missing = failure.
import { join } from "node:path";
import type { StoredEvent } from "@octw/audit";
import type { Page, Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openControlUi, type ControlUi } from "./oidc-browser/control-ui";
import { DOMAIN, POLL, SESSION_COOKIE, replayedCookieRefused, signOutThenBack } from "./oidc-browser/harness";
import { startRealizedBrowserStack, type RealizedBrowserStack } from "./oidc-browser/realized-stack";

const SHOTS = join(process.cwd(), "reports", "oidc-browser", "realized");
/** The platform's edge.oidc.recheckS: its minimum, so step 6 waits for it once. */
const RECHECK_S = 30;

let s: RealizedBrowserStack;
let mia: ControlUi;
let miaCookie = "";
/** What mia wrote in step 2 and the answer she got. */
let chat = { text: "", answer: "" };
const t0 = Date.now();
const url = (tenant: string, path = "/") => s.kit.url(tenant, path);
const composer = (p: Page) => p.getByPlaceholder(/^Message /);

/** The edge's decision with this reason reaches the platform's audit trail (the edge ships in batches). */
async function auditHas(tenant: string, actor: string, reason: RegExp): Promise<void> {
  const reasonOf = (e: StoredEvent) => String((e.details as { reason?: unknown }).reason);
  let seen: StoredEvent[] = [];
  await expect
    .poll(async () => (seen = await s.auditEvents(tenant)).some((e) => e.actor === actor && reason.test(reasonOf(e))), { timeout: 30_000, interval: 1_000 })
    .toBe(true)
    .catch((e: unknown) => {
      const last = seen.slice(-40).map((x) => `${x.time} ${x.actor} ${x.decision} ${reasonOf(x)} ${JSON.stringify(x.details)}`);
      throw new Error(`no ${tenant}/${actor} decision with a reason like ${String(reason)} in the audit trail; ${tenant}'s last decisions:\n${last.join("\n")}`, { cause: e });
    });
}

beforeAll(async () => {
  s = await startRealizedBrowserStack({ shots: SHOTS, recheckS: RECHECK_S });
  console.log(`[oidc-browser realized] stack up after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}, 1_200_000);

afterAll(async () => {
  // What the edge said about its audit shipping (its log carries no secrets), for a failure's diagnosis.
  console.log(`[oidc-browser realized] edge log, audit lines:\n${(await s?.edgeLog().catch(() => "") ?? "").split("\n").filter((l) => /audit/i.test(l)).slice(-20).join("\n")}`);
  await s?.close();
  console.log(`[oidc-browser realized] ${((Date.now() - t0) / 1000).toFixed(1)} s wall (stack up and down included), screenshots in ${SHOTS}`);
}, 300_000);

describe("people sign in with the IdP on the realized platform and use OpenClaw's Control UI", () => {
  it("1. a member of alpha opens alpha's URL, signs in on the IdP's page, and OpenClaw's Control UI loads", async () => {
    mia = await openControlUi(s.kit, "alpha", "mia", "mia-pass-1", { shot: "alpha-control-ui-member", idpShot: "idp-sign-in" });
    expect(mia.scopes).toEqual(expect.arrayContaining(["operator.read", "operator.write"]));
    expect(mia.scopes).not.toContain("operator.admin");
    await expect.poll(() => composer(mia.page).count(), POLL).toBe(1);
    const c = (await mia.context.cookies(url("alpha"))).find((k) => k.name === SESSION_COOKIE)!;
    expect(c).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/", domain: `alpha.${DOMAIN}` });
    miaCookie = c.value;
  }, 180_000);

  it("2. the member sends a chat message; the fake provider's answer, reached through the router with alpha's key, appears on the page", async () => {
    const before = s.provider.calls.length;
    const text = `hello from mia ${Date.now()}`;
    await composer(mia.page).fill(text);
    await mia.page.keyboard.press("Enter");
    // The agent's turn: OpenClaw → its egress proxy → alpha's router (alpha's key) → the fake provider.
    const call = await expect
      .poll(() => s.provider.calls.slice(before).find((c) => c.body.includes(text)), { timeout: 120_000, interval: 500 })
      .toBeDefined()
      .then(() => s.provider.calls.slice(before).find((c) => c.body.includes(text))!);
    expect(call.authorization).toBe(`Bearer ${s.keys.alpha}`);
    expect(call.model).toBe("gpt-alpha");
    await expect.poll(() => mia.page.getByText(call.answer, { exact: true }).count(), { timeout: 60_000, interval: 250 }).toBeGreaterThan(0);
    await s.kit.snap(mia.page, "alpha-chat-answer");
    chat = { text, answer: call.answer };
    // Every call of alpha's carried alpha's key, none bravo's.
    expect(s.provider.calls.filter((c) => c.authorization === `Bearer ${s.keys.bravo}`)).toEqual([]);
  }, 240_000);

  it("3. the same person opens bravo's URL: the no-access page, and nothing of bravo's is loaded", async () => {
    const p = await mia.context.newPage();
    const seen: Response[] = [];
    p.on("response", (r) => seen.push(r));
    await p.goto(url("bravo", "/"));
    // Single sign-on at the IdP: no password asked, straight back to bravo's callback.
    await expect.poll(() => p.textContent("h1"), POLL).toBe("You have no access to this tenant");
    await s.kit.snap(p, "bravo-no-access");
    const fromBravo = seen.filter((r) => new URL(r.url()).host === `bravo.${DOMAIN}`).map((r) => `${r.status()} ${new URL(r.url()).pathname}`);
    // Only the edge's own answers: the sign-in redirects and the no-access page (and a refused
    // favicon, when chromium asks for one); nothing of bravo's OpenClaw, which answers 200.
    expect(fromBravo.slice(0, 3)).toEqual(["302 /", "302 /_edge/oidc/login", "403 /_edge/oidc/callback"]);
    expect(fromBravo.slice(3).filter((r) => !/^(401|403) \/favicon\.ico$/.test(r))).toEqual([]);
    expect(await p.content()).not.toMatch(/openclaw/i);
    expect(await p.title()).not.toMatch(/OpenClaw/);
    await auditHas("bravo", "mia", /^oidc_no_access:no_mapped_group$/);
    await p.close();
  }, 120_000);

  it("4. a viewer of alpha sees the conversation but cannot send", async () => {
    const vic = await openControlUi(s.kit, "alpha", "vic", "vic-pass-1", { shot: "alpha-control-ui-viewer" });
    expect(vic.scopes).toContain("operator.read");
    expect(vic.scopes).not.toContain("operator.write");
    // mia's message and the agent's answer, in the viewer's Control UI.
    expect(chat.answer).not.toBe("");
    await expect.poll(() => vic.page.getByText(chat.answer, { exact: true }).count(), { timeout: 60_000, interval: 250 }).toBeGreaterThan(0);
    await expect.poll(() => vic.page.getByText(chat.text, { exact: true }).count(), POLL).toBeGreaterThan(0);
    await s.kit.snap(vic.page, "alpha-viewer-sees-conversation");
    // OpenClaw's composer lets anyone type; the send is what the gateway refuses (the edge sent viewer's scopes).
    const calls = s.provider.calls.length;
    await composer(vic.page).fill("viewer trying to write");
    await vic.page.keyboard.press("Enter");
    await expect.poll(() => vic.frames.some((f) => f.includes('"ok":false') && f.includes("missing scope: operator.write")), POLL).toBe(true);
    await expect.poll(() => vic.page.getByText("Not sent").count(), POLL).toBeGreaterThan(0);
    await s.kit.snap(vic.page, "alpha-viewer-cannot-send");
    await vic.page.waitForTimeout(3_000);
    expect(s.provider.calls.slice(calls).some((c) => c.body.includes("viewer trying to write"))).toBe(false);
    await vic.close();
  }, 240_000);

  it("5. sign-out (also at the IdP); then the back button and a replayed session cookie both need sign-in again", async () => {
    const p = mia.page;
    await p.goto(url("alpha", "/_edge/oidc/logout"));
    await signOutThenBack(s.kit, p);
    await s.kit.snap(p, "back-button-sign-in-again");
    await replayedCookieRefused(s.kit, "alpha", miaCookie);
  }, 180_000);

  it("6. an expired session mid-use leads back through sign-in to where the person was", async () => {
    const p = mia.page;
    // The IdP's refresh tokens for this sign-in live 5 s: the edge's next re-check finds the session expired there.
    s.idp.ttl.refreshTokenSec = 5;
    const grantErrors = s.idpGrantErrors.length;
    await s.kit.idpLogin(p, "mia", "mia-pass-1");
    await p.waitForURL((u) => u.host === `alpha.${DOMAIN}` && !u.pathname.startsWith("/_edge/"));
    s.idp.ttl.refreshTokenSec = 86_400;
    const signedIn = Date.now();
    // In use: a page of the Control UI other than the start page.
    const where = "/chat/main?focus=composer";
    await p.goto(url("alpha", where));
    await expect.poll(() => composer(p).count(), POLL).toBe(1);
    await p.waitForTimeout(Math.max(0, signedIn + (RECHECK_S + 2) * 1000 - Date.now()));
    await p.reload();
    await expect.poll(() => p.textContent("h1"), POLL).toBe("Your session has ended");
    await s.kit.snap(p, "session-expired");
    await p.getByRole("link", { name: "Sign in again" }).click();
    // The IdP session still stands: no password, straight back (through the "Signed in" page).
    await p.waitForURL(url("alpha", where), { timeout: 30_000 });
    await expect.poll(() => composer(p).count(), { timeout: 30_000, interval: 250 }).toBe(1);
    await s.kit.snap(p, "back-where-she-was");
    // Why it ended: the edge's re-check was refused by the IdP (the refresh token had expired there).
    expect(s.idpGrantErrors.slice(grantErrors)).toContainEqual({ grantType: "refresh_token", error: "invalid_grant" });
    // ... and the edge's decision is in alpha's trail although the edge's upstream lookup for alpha
    // was cold after the idle spell (test/conformance/FINDINGS.md, 10).
    await auditHas("alpha", "mia", /^oidc_refresh_/);
    await mia.close();
  }, 240_000);
});
