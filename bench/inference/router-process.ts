// The inference router for bench:inference, in its own process, configured for one tenant on
// loopback (router address 127.0.0.1 in 127.0.0.0/27), keys from memory, audit events counted
// and dropped: AuditClient's own cost is what `npm run bench:audit` measures.
// argv[5], when given, is another copy of packages/inference-router/src (an older commit's,
// see run.ts BENCH_BASELINE_REF) to run instead of this checkout's.
import { createHash } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import * as contracts from "@octw/contracts";
import type * as KeysModule from "../../packages/inference-router/src/keys";
import type * as ServerModule from "../../packages/inference-router/src/server";
import { PROVIDER_HOST } from "./provider-host";

const [routerPort, providerPort, token] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] ?? ""];
const src = process.argv[5] ?? path.resolve(import.meta.dirname, "../../packages/inference-router/src");
const load = (m: string) => import(pathToFileURL(path.join(src, m)).href);
// The router's config format moved to @octw/contracts; an older commit's copy still has src/config.ts.
const { parseRouterConfig } = existsSync(path.join(src, "config.ts")) ? ((await load("config.ts")) as Pick<typeof contracts, "parseRouterConfig">) : contracts;
const { ProviderKeyCache } = (await load("keys.ts")) as typeof KeysModule;
const { createInferenceRouter } = (await load("server.ts")) as typeof ServerModule;

// The bench's provider is plain http on loopback: the router's test-only hatch.
process.env.OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS = "1";
const config = parseRouterConfig({
  listen: { host: "127.0.0.1", port: routerPort },
  allowInsecureProvidersForTests: ["127.0.0.0/8"],
  tenants: [
    {
      id: "bench",
      routerAddress: "127.0.0.1",
      subnet: "127.0.0.0/27",
      tokenSha256: createHash("sha256").update(token).digest("hex"),
      providers: [{ name: "openai", api: "openai", baseUrl: `http://${PROVIDER_HOST}:${providerPort}`, models: ["bench-model"] }],
      limits: { rate: { ratePerSec: 100_000, burst: 100_000 }, maxConcurrent: 10_000, maxConnections: 10_000 },
    },
    // BENCH_TENANTS > 1: that many tenants in all (the others idle), for what a router serving a
    // fleet pays per request.
    ...Array.from({ length: Math.max(0, Number(process.env.BENCH_TENANTS ?? 1) - 1) }, (_, i) => {
      const [third, fourth] = [(32 * i) >> 8, (32 * i) & 0xff];
      return {
        id: `idle-${i}`,
        routerAddress: `10.70.${third}.${fourth + 3}`,
        subnet: `10.70.${third}.${fourth}/27`,
        tokenSha256: createHash("sha256").update(`idle-token-${i}`).digest("hex"),
        providers: [{ name: "openai", api: "openai" as const, baseUrl: `http://${PROVIDER_HOST}:${providerPort}`, models: ["bench-model"] }],
      };
    }),
  ],
});
let audited = 0;
const router = createInferenceRouter(config, {
  keys: new ProviderKeyCache({ get: () => Promise.resolve(Buffer.from("sk-bench-key")) }, config.keys),
  audit: { record: () => (audited++, Promise.resolve()) },
});
// The runner asks for this process's CPU time (a figure that machine load does not distort).
// Installed before "ready" is printed: the runner signals at once, and a SIGUSR2 that arrives
// before its handler kills the process (seen on the loaded machine: the run then hangs).
process.on("SIGUSR2", () => {
  const u = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000, sysMs: u.system / 1000, audited })}\n`);
});
await router.listen();
process.stdout.write("ready\n");
process.on("SIGTERM", () => process.exit(0));
