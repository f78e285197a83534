// The inference router for bench:inference, in its own process, configured for one tenant on
// loopback (router address 127.0.0.1 in 127.0.0.0/27), keys from memory, audit events counted
// and dropped: AuditClient's own cost is what `npm run bench:audit` measures.
import { createHash } from "node:crypto";
import { parseRouterConfig } from "@octw/contracts";
import { ProviderKeyCache } from "../../packages/inference-router/src/keys";
import { createInferenceRouter } from "../../packages/inference-router/src/server";

const [routerPort, providerPort, token] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] ?? ""];
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
      providers: [{ name: "openai", api: "openai", baseUrl: `http://127.0.0.1:${providerPort}`, models: ["bench-model"] }],
      limits: { rate: { ratePerSec: 100_000, burst: 100_000 }, maxConcurrent: 10_000, maxConnections: 10_000 },
    },
  ],
});
let audited = 0;
const router = createInferenceRouter(config, {
  keys: new ProviderKeyCache({ get: () => Promise.resolve(Buffer.from("sk-bench-key")) }, config.keys),
  audit: { record: () => (audited++, Promise.resolve()) },
});
await router.listen();
process.stdout.write("ready\n");
// The runner asks for this process's CPU time (a figure that machine load does not distort).
process.on("SIGUSR2", () => {
  const u = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000, audited })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
