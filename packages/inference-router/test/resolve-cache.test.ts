// Cached provider-name answers: DNS is asked less often, but every request still vets the
// answer it connects to (a policy reloaded while an answer is cached applies at once).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSECURE_PROVIDERS_ENV, parseRouterConfig, type RouterConfig } from "@octw/contracts";
import type { ResolvedAddress, Resolver } from "../src/destination";
import { ProviderKeyCache } from "../src/keys";
import { cachingResolver } from "../src/resolve-cache";
import { createInferenceRouter, type InferenceRouter } from "../src/server";
import { call, listenOn, sha256 } from "./helpers";

process.env[INSECURE_PROVIDERS_ENV] = "1";

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

describe("cachingResolver", () => {
  it("answers from memory within the lifetime, asks again after it", async () => {
    let t = 0;
    let calls = 0;
    const r = cachingResolver(() => (calls++, Promise.resolve([v4(`192.0.2.${calls}`)])), 1_000, () => t);
    expect(await r("a.example")).toEqual([v4("192.0.2.1")]);
    t = 999;
    expect(await r("a.example")).toEqual([v4("192.0.2.1")]);
    expect(calls).toBe(1);
    t = 1_000;
    expect(await r("a.example")).toEqual([v4("192.0.2.2")]);
    expect(calls).toBe(2);
  });

  it("keeps names apart", async () => {
    const r = cachingResolver((h) => Promise.resolve([v4(h === "a.example" ? "192.0.2.1" : "192.0.2.2")]), 1_000, () => 0);
    expect(await r("a.example")).toEqual([v4("192.0.2.1")]);
    expect(await r("b.example")).toEqual([v4("192.0.2.2")]);
  });

  it("does not cache a failure: the next request asks again", async () => {
    let calls = 0;
    const r = cachingResolver(() => (++calls === 1 ? Promise.reject(new Error("ENOTFOUND")) : Promise.resolve([v4("192.0.2.9")])), 1_000, () => 0);
    await expect(r("a.example")).rejects.toThrow("ENOTFOUND");
    expect(await r("a.example")).toEqual([v4("192.0.2.9")]);
    expect(calls).toBe(2);
  });

  it("concurrent requests for one name share one lookup", async () => {
    let calls = 0;
    let answer: (a: ResolvedAddress[]) => void = () => {};
    const r = cachingResolver(() => (calls++, new Promise<ResolvedAddress[]>((res) => (answer = res))), 1_000, () => 0);
    const all = Promise.all([r("a.example"), r("a.example"), r("a.example")]);
    answer([v4("192.0.2.7")]);
    expect(await all).toEqual([[v4("192.0.2.7")], [v4("192.0.2.7")], [v4("192.0.2.7")]]);
    expect(calls).toBe(1);
  });
});

describe("the router with cached answers", () => {
  const A = { net: "127.0.14.0/27", router: "127.0.14.3", client: "127.0.14.5", token: "router-token-of-tenant-a-cache-0123456789abcdef" };
  const NAME = "provider.example";
  let provider: http.Server;
  let port = 0;
  let connections = 0;
  let lookups = 0;
  let router: InferenceRouter;
  let listeners: { port: number; close(): Promise<void> };
  const inner: Resolver = () => (lookups++, Promise.resolve([v4("127.0.0.1")]));
  const configWith = (hatch: string[]): RouterConfig =>
    parseRouterConfig({
      listen: { host: "127.0.0.1", port: 0 },
      allowInsecureProvidersForTests: hatch,
      tenants: [{ id: "a", routerAddress: A.router, subnet: A.net, tokenSha256: sha256(A.token), providers: [{ name: "openai", api: "openai", baseUrl: `http://${NAME}:${port}`, models: ["m"] }] }],
    });
  const ask = () => call({ to: A.router, from: A.client, port: listeners.port, path: "/openai/v1/chat/completions", headers: { authorization: `Bearer ${A.token}` }, body: { model: "m", messages: [] } });

  beforeAll(async () => {
    provider = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end(JSON.stringify({ ok: true })));
    });
    provider.on("connection", () => connections++);
    await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
    port = (provider.address() as AddressInfo).port;
    router = createInferenceRouter(configWith(["127.0.0.1/32"]), {
      keys: new ProviderKeyCache({ get: () => Promise.resolve(Buffer.from("sk-cache-test-key-000000")) }, { cacheTtlMs: 60_000, maxStaleMs: 60_000 }),
      audit: { record: () => Promise.resolve() },
      resolve: cachingResolver(inner, 60_000),
    });
    listeners = await listenOn(router.server, [A.router]);
  });
  afterAll(async () => {
    await router.close(100);
    await listeners.close();
    provider.closeAllConnections();
    await new Promise<void>((r) => provider.close(() => r()));
  });

  it("resolves once for many requests, and a cached answer the reloaded policy refuses is refused", async () => {
    // Positive control: loopback is allowed by the test hatch, so the name is served.
    for (let i = 0; i < 3; i++) expect((await ask()).status).toBe(200);
    expect(lookups).toBe(1);
    expect(connections).toBeGreaterThan(0);
    const before = connections;
    // Same cached answer, policy without the hatch: refused before any socket opens.
    router.reconfigure(configWith(["127.0.0.2/32"]));
    const refused = await ask();
    expect(refused.status).toBe(502);
    expect(refused.body).toContain("destination_not_public");
    expect(lookups).toBe(1);
    expect(connections).toBe(before);
  });
});
