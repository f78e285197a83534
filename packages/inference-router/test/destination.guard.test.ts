// The connect-time guard inside the router: a provider NAME whose resolution the test controls.
// The only server anywhere is a loopback one this test owns, and it counts the connections it
// receives, so "refused before any socket opened" is measured, not assumed. Positive control:
// with the test-only hatch covering loopback, the same name connects.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { INSECURE_PROVIDERS_ENV, parseRouterConfig, type RouterConfig } from "@octw/contracts";
import type { Resolver } from "../src/destination";
import { ProviderKeyCache } from "../src/keys";
import { createInferenceRouter, type InferenceRouter } from "../src/server";
import { call, listenOn, sha256 } from "./helpers";

process.env[INSECURE_PROVIDERS_ENV] = "1";

const A = { net: "127.0.13.0/27", router: "127.0.13.3", client: "127.0.13.5", token: "router-token-of-tenant-a-guard-0123456789abcdef" };
const NAME = "provider.example";

let provider: http.Server;
let providerPort: number;
let connections = 0;
let answers: string[][] = [];
let resolverCalls = 0;
let router: InferenceRouter;
let listeners: { port: number; close(): Promise<void> };
const events: Record<string, unknown>[] = [];

/** Answers the next resolution with the next list in `answers` (the last one repeats). */
const resolver: Resolver = (host) => {
  resolverCalls++;
  if (host !== NAME) return Promise.reject(new Error(`unexpected host ${host}`));
  const next = answers.length > 1 ? answers.shift()! : answers[0]!;
  return Promise.resolve(next.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));
};

const configWith = (hatch: string[]): RouterConfig =>
  parseRouterConfig({
    listen: { host: "127.0.0.1", port: 0 },
    allowInsecureProvidersForTests: hatch,
    tenants: [{ id: "a", routerAddress: A.router, subnet: A.net, tokenSha256: sha256(A.token), providers: [{ name: "openai", api: "openai", baseUrl: `http://${NAME}:${providerPort}`, models: ["m"] }] }],
  });

const ask = () => call({ to: A.router, from: A.client, port: listeners.port, path: "/openai/v1/chat/completions", headers: { authorization: `Bearer ${A.token}` }, body: { model: "m", messages: [] } });
const settle = () => new Promise((r) => setTimeout(r, 20));

beforeAll(async () => {
  provider = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(JSON.stringify({ ok: true })));
  });
  provider.on("connection", () => connections++);
  await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
  providerPort = (provider.address() as AddressInfo).port;
  router = createInferenceRouter(configWith(["127.0.0.2/32"]), {
    keys: new ProviderKeyCache({ get: () => Promise.resolve(Buffer.from("sk-guard-test-key-000000")) }, { cacheTtlMs: 60_000, maxStaleMs: 60_000 }),
    audit: { record: (e) => (events.push({ ...e }), Promise.resolve()) },
    resolve: resolver,
  });
  listeners = await listenOn(router.server, [A.router]);
});
afterAll(async () => {
  await router.close(100);
  await listeners.close();
  provider.closeAllConnections();
  await new Promise<void>((r) => provider.close(() => r()));
});
beforeEach(() => {
  router.reconfigure(configWith(["127.0.0.2/32"]));
  answers = [["127.0.0.1"]];
  resolverCalls = 0;
});

describe("connect-time destination guard", () => {
  it("a name resolving to loopback is refused before any socket opens; with the hatch on loopback the same name connects", async () => {
    const before = connections;
    const refused = await ask();
    expect(refused.status).toBe(502);
    expect(refused.body).toContain("octw_destination_not_public");
    expect(resolverCalls).toBe(1);
    await settle();
    expect(connections).toBe(before);
    expect(events.at(-1)).toMatchObject({ tenant: "a", decision: "denied", details: { reason: "destination_not_public", status: 502 } });
    // Positive control: the probe reaches the provider once loopback is an allowed test network.
    router.reconfigure(configWith(["127.0.0.1/32"]));
    const served = await ask();
    expect(served.status).toBe(200);
    expect(connections).toBe(before + 1);
  });

  it("one inside answer among public-looking ones refuses the whole name (no socket)", async () => {
    router.reconfigure(configWith(["127.0.0.1/32"]));
    for (const bad of [["127.0.0.1", "169.254.169.254"], ["127.0.0.1", "10.0.0.1"], ["127.0.0.1", "::ffff:127.0.0.2"], ["fd00::1"], []]) {
      answers = [bad];
      const before = connections;
      const r = await ask();
      expect(r.status, JSON.stringify(bad)).toBe(502);
      await settle();
      expect(connections).toBe(before);
    }
  });

  it("the tenant networks stay refused under the hatch (the platform's own networks)", async () => {
    router.reconfigure(configWith(["127.0.0.0/8"]));
    answers = [["127.0.13.9"]];
    const before = connections;
    const r = await ask();
    expect(r.status).toBe(502);
    expect(r.body).toContain("destination_not_public");
    await settle();
    expect(connections).toBe(before);
  });

  it("DNS rebinding: each request resolves once and connects to the address it checked", async () => {
    router.reconfigure(configWith(["127.0.0.1/32"]));
    // First answer allowed, every later answer the metadata address: a second lookup at connect time would be caught here.
    answers = [["127.0.0.1"], ["169.254.169.254"]];
    const first = await ask();
    // provider.example has no answer in the system resolver: the 200 shows the socket went to the
    // pinned, checked address, and the single call that no second lookup happened.
    expect(first.status).toBe(200);
    expect(resolverCalls).toBe(1);
    const second = await ask();
    expect(second.status).toBe(502);
    expect(resolverCalls).toBe(2);
  });
});
