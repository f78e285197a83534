// OpenClaw's own Control UI, opened by a person through the edge after signing in at the IdP:
// what the suites with a real OpenClaw gateway share.
import type { BrowserContext, Page, WebSocket as PwWebSocket } from "playwright-core";
import { expect } from "vitest";
import type { BrowserKit } from "./harness";

interface Frame {
  type: string;
  ok?: boolean;
  payload?: { auth?: { scopes?: string[] } };
}

export interface ControlUi {
  page: Page;
  context: BrowserContext;
  /** The scopes of OpenClaw's hello (its answer to the UI's connect). */
  scopes: string[];
  /** Every frame OpenClaw sent the UI on its WebSockets, as text. */
  frames: string[];
  close(): Promise<void>;
}

const helloOf = (frames: string[]): Frame | undefined =>
  frames.map((f) => JSON.parse(f) as Frame).find((f) => f.type === "res" && f.ok === true && f.payload?.auth?.scopes);

/** Signs a person in with a fresh browser at `tenant`'s URL and waits for OpenClaw's hello on the UI's WebSocket. */
export async function openControlUi(kit: BrowserKit, tenant: string, username: string, password: string, o: { shot: string; idpShot?: string }): Promise<ControlUi> {
  const context = await kit.newContext();
  const page = await context.newPage();
  const frames: string[] = [];
  const sockets: PwWebSocket[] = [];
  page.on("websocket", (ws) => {
    sockets.push(ws);
    ws.on("framereceived", (f) => frames.push(typeof f.payload === "string" ? f.payload : f.payload.toString("utf8")));
  });
  await page.goto(kit.url(tenant, "/"));
  await kit.idpLogin(page, username, password, o.idpShot);
  await page.waitForURL(kit.url(tenant, "/"));
  await expect.poll(() => page.title(), { timeout: 30_000 }).toMatch(/OpenClaw/);
  // OpenClaw's answer to the UI's connect, on the WebSocket the UI opened to the tenant's origin.
  await expect.poll(() => helloOf(frames), { timeout: 60_000 }).toBeDefined();
  expect(sockets.length).toBeGreaterThan(0);
  expect(sockets.every((s) => new URL(s.url()).host === new URL(kit.url(tenant)).host)).toBe(true);
  await page.waitForTimeout(2_000);
  await kit.snap(page, o.shot);
  return { page, context, scopes: helloOf(frames)!.payload!.auth!.scopes!, frames, close: () => context.close() };
}
