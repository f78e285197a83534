// The tenant's upstream connections are reused across bursts: a second wave of as many
// concurrent requests as the first opens no new connection to the provider (a new one costs a
// TCP, and for real providers a TLS, handshake before the first byte).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSECURE_PROVIDERS_ENV, parseRouterConfig } from "@octw/contracts";
import { ProviderKeyCache } from "../src/keys";
import { createInferenceRouter, type InferenceRouter } from "../src/server";
import { call, listenOn, sha256 } from "./helpers";

process.env[INSECURE_PROVIDERS_ENV] = "1";

const A = { net: "127.0.15.0/27", router: "127.0.15.3", client: "127.0.15.5", token: "router-token-of-tenant-a-pool-0123456789abcdef0" };
const WAVE = 100;

let provider: http.Server;
let connections = 0;
const waiting: (() => void)[] = [];
let router: InferenceRouter;
let listeners: { port: number; close(): Promise<void> };

beforeAll(async () => {
  // Answers only once WAVE requests are open at the same time, so each wave needs WAVE sockets.
  provider = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      waiting.push(() => res.end(JSON.stringify({ ok: true })));
      if (waiting.length === WAVE) waiting.splice(0).forEach((f) => f());
    });
  });
  provider.keepAliveTimeout = 60_000;
  provider.on("connection", () => connections++);
  await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  router = createInferenceRouter(
    parseRouterConfig({
      listen: { host: "127.0.0.1", port: 0 },
      allowInsecureProvidersForTests: ["127.0.0.1/32"],
      tenants: [
        {
          id: "a",
          routerAddress: A.router,
          subnet: A.net,
          tokenSha256: sha256(A.token),
          providers: [{ name: "openai", api: "openai", baseUrl: url, models: ["m"] }],
          limits: { rate: { ratePerSec: 10_000, burst: 10_000 }, maxConcurrent: 1_000, maxConnections: 1_000 },
        },
      ],
    }),
    {
      keys: new ProviderKeyCache({ get: () => Promise.resolve(Buffer.from("sk-pool-test-key-0000000")) }, { cacheTtlMs: 60_000, maxStaleMs: 60_000 }),
      audit: { record: () => Promise.resolve() },
    },
  );
  listeners = await listenOn(router.server, [A.router]);
});
afterAll(async () => {
  await router.close(100);
  await listeners.close();
  provider.closeAllConnections();
  await new Promise<void>((r) => provider.close(() => r()));
});

const wave = () =>
  Promise.all(Array.from({ length: WAVE }, () => call({ to: A.router, from: A.client, port: listeners.port, path: "/openai/v1/chat/completions", headers: { authorization: `Bearer ${A.token}` }, body: { model: "m", messages: [] } })));

describe("upstream connection pool", () => {
  it(`a second wave of ${WAVE} concurrent requests reuses the first wave's ${WAVE} connections`, async () => {
    const first = await wave();
    expect(first.every((r) => r.status === 200)).toBe(true);
    // The provider held every request until all were open: the first wave needed WAVE connections.
    expect(connections).toBe(WAVE);
    await new Promise((r) => setTimeout(r, 50));
    const second = await wave();
    expect(second.every((r) => r.status === 200)).toBe(true);
    expect(connections).toBe(WAVE);
  });
});
