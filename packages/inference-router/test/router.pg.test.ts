// The router with its real dependencies: provider keys sealed in tenant_secrets (AES-256-GCM,
// @octw/audit's TenantSecrets) and inference.call events through AuditClient into audit_events.
// Postgres is reached through a TCP relay the test can cut, to show the outage behaviour:
// cached keys keep serving for a bounded time, audit events go to the spool and arrive later.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditClient, TenantSecrets } from "@octw/audit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../audit/test/pg-support";
import { INSECURE_PROVIDERS_ENV, parseRouterConfig } from "@octw/contracts";
import { ProviderKeyCache } from "../src/keys";
import { ROUTER_ACTOR, createInferenceRouter, type InferenceRouter } from "../src/server";
import { call, fakeProvider, listenOn, sha256, type FakeProvider } from "./helpers";
import { pgRelay } from "../../../test/support/pg-relay";

const A = { net: "127.0.11.0/27", router: "127.0.11.3", client: "127.0.11.5", token: randomBytes(24).toString("hex") };
const B = { net: "127.0.21.0/27", router: "127.0.21.3", client: "127.0.21.5", token: randomBytes(24).toString("hex") };
const KEY_A = `sk-A-${randomBytes(16).toString("hex")}`;
const KEY_B = `sk-B-${randomBytes(16).toString("hex")}`;
const keyring = [{ version: 1, key: randomBytes(32) }];

// The fake provider is plain http on loopback: the router's test-only escape hatch (src/destination.ts).
process.env[INSECURE_PROVIDERS_ENV] = "1";

let db: TestAuditDb;
let relay: Awaited<ReturnType<typeof pgRelay>>;
let provider: FakeProvider;
let router: InferenceRouter;
let listeners: { port: number; close(): Promise<void> };
let audit: AuditClient;
let pool: pg.Pool;
let spoolDir: string;
const logs: Record<string, unknown>[] = [];

const chat = (model: string) => ({ model, messages: [{ role: "user", content: "hi" }] });
const ask = (who: typeof A, token: string, model: string) =>
  call({ to: who.router, from: who.client, port: listeners.port, path: "/openai/v1/chat/completions", headers: { authorization: `Bearer ${token}` }, body: chat(model) });

beforeAll(async () => {
  db = await createAuditDb();
  // Keys are stored the way an operator does it (octw secrets set), as the owner; the router runs as its own role.
  const setup = new pg.Pool({ connectionString: db.ownerUrl, max: 1 });
  const store = new TenantSecrets({ db: setup, keyring });
  await store.set("a", "openai/api-key", KEY_A);
  await store.set("b", "openai/api-key", KEY_B);
  await setup.end();

  relay = await pgRelay(new URL(db.routerUrl));
  provider = await fakeProvider();
  spoolDir = mkdtempSync(path.join(tmpdir(), "router-audit-"));
  audit = new AuditClient({ connection: relay.url(db.routerUrl), spoolPath: path.join(spoolDir, "audit.spool"), batchIntervalMs: 10, retryIntervalMs: 200 });
  pool = new pg.Pool({ connectionString: relay.url(db.routerUrl), max: 2, connectionTimeoutMillis: 1_000 });
  pool.on("error", () => {});
  const secrets = new TenantSecrets({ db: pool, keyring, audit, actor: ROUTER_ACTOR });
  const config = parseRouterConfig({
    listen: { host: "127.0.0.1", port: 0 },
    allowInsecureProvidersForTests: ["127.0.0.1/32"],
    keys: { cacheTtlMs: 300, maxStaleMs: 3_000 },
    tenants: [
      { id: "a", routerAddress: A.router, subnet: A.net, tokenSha256: sha256(A.token), providers: [{ name: "openai", api: "openai", baseUrl: provider.url, models: ["gpt-a"] }] },
      { id: "b", routerAddress: B.router, subnet: B.net, tokenSha256: sha256(B.token), providers: [{ name: "openai", api: "openai", baseUrl: provider.url, models: ["gpt-b"] }] },
    ],
  });
  router = createInferenceRouter(config, {
    keys: new ProviderKeyCache(secrets, { ...config.keys, retryMs: 100 }),
    audit,
    log: (l) => logs.push(l),
  });
  listeners = await listenOn(router.server, [A.router, B.router]);
});

afterAll(async () => {
  await router?.close(100);
  await listeners?.close();
  await audit?.close();
  await pool?.end();
  await relay?.close();
  await provider?.close();
  await db?.drop();
  if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
});

async function rows(): Promise<{ tenant: string; actor: string; action: string; target: string; decision: string; details: Record<string, unknown> }[]> {
  const c = new pg.Client({ connectionString: db.superUrl });
  await c.connect();
  try {
    const r = await c.query(`SELECT tenant, actor, action, target, decision, details FROM octw.audit_events ORDER BY tenant, seq`);
    return r.rows as never;
  } finally {
    await c.end();
  }
}

describe("keys from tenant_secrets, events into audit_events", () => {
  it("A's call carries A's decrypted key; B's carries B's; a swapped token is refused", async () => {
    expect((await ask(A, A.token, "gpt-a")).status).toBe(200);
    expect(provider.calls.at(-1)!.headers.authorization).toBe(`Bearer ${KEY_A}`);
    expect((await ask(B, B.token, "gpt-b")).status).toBe(200);
    expect(provider.calls.at(-1)!.headers.authorization).toBe(`Bearer ${KEY_B}`);
    const n = provider.calls.length;
    expect((await ask(A, B.token, "gpt-a")).status).toBe(403);
    expect(provider.calls.length).toBe(n);
    await new Promise((r) => setTimeout(r, 300));
    const events = await rows();
    const calls = events.filter((e) => e.action === "inference.call");
    expect(calls.map((e) => [e.tenant, e.decision, e.details.reason])).toEqual([
      ["a", "allowed", "ok"],
      ["a", "denied", "token_of_other_tenant"],
      ["b", "allowed", "ok"],
    ]);
    expect(calls[0]).toMatchObject({ actor: ROUTER_ACTOR, target: "openai/gpt-a", details: { provider: "openai", model: "gpt-a", status: 200 } });
    expect(typeof calls[0]!.details.latencyMs).toBe("number");
    expect(calls[0]!.details.responseBytes).toBeGreaterThan(0);
    // Key reads are audited too (TenantSecrets' secret.read), under the tenant whose key was read.
    expect(events.filter((e) => e.action === "secret.read").map((e) => e.tenant).sort()).toEqual(expect.arrayContaining(["a", "b"]));
    const text = JSON.stringify(events);
    for (const s of [KEY_A, KEY_B, A.token, B.token]) expect(text).not.toContain(s);
  });

  it("Postgres down: cached keys serve for at most maxStale, events are spooled; back up: served and stored", async () => {
    // Warm A's key, then cut Postgres.
    expect((await ask(A, A.token, "gpt-a")).status).toBe(200);
    const before = (await rows()).length;
    await relay.cut();
    const spooledBefore = audit.stats().spooled;
    // Within maxStale (3 s after the last successful fetch): still served with A's key.
    await new Promise((r) => setTimeout(r, 700));
    expect((await ask(A, A.token, "gpt-a")).status).toBe(200);
    expect(provider.calls.at(-1)!.headers.authorization).toBe(`Bearer ${KEY_A}`);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(audit.stats().spooled).toBeGreaterThan(spooledBefore);
    // Past maxStale: refused, cleanly.
    await new Promise((r) => setTimeout(r, 2_000));
    const late = await ask(A, A.token, "gpt-a");
    expect(late.status).toBe(503);
    expect(late.body).toContain("key_unavailable");
    expect(late.body).not.toContain(KEY_A);
    // Postgres back: keys are fetched again and the spool drains into audit_events.
    await relay.restore();
    expect((await ask(A, A.token, "gpt-a")).status).toBe(200);
    const deadline = Date.now() + 10_000;
    while (audit.stats().spoolBytes > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(audit.stats().spoolBytes).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const after = (await rows()).filter((e) => e.action === "inference.call" && e.tenant === "a");
    expect(after.map((e) => e.details.reason)).toEqual(expect.arrayContaining(["ok", "key_unavailable"]));
    expect((await rows()).length).toBeGreaterThanOrEqual(before + 4);
    expect(JSON.stringify(logs)).not.toContain(KEY_A);
  });
});
