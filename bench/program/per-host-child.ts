/**
 * One measured evaluation for `npm run bench:program:per-host`:
 * `tsx per-host-child.ts <host|single|baseline> <tenants> <platformTenants>` declares, under
 * pulumi mocks, either one host's stack of the per-host layout (that host's `tenants` of a
 * platform of `platformTenants`, spread over platformTenants/tenants hosts: the whole config is
 * planned, only that host's part is declared), the single stack of `platformTenants`, or
 * bench/program's baseline of `tenants`; prints one JSON line like child.ts.
 */
import * as pulumi from "@pulumi/pulumi";

// As in child.ts: source-mapped promise stacks would dominate both sides alike.
process.setSourceMapsEnabled(false);
import { OpenClawPlatform, SHARED_AUDIT_OUTPUT, hostPartOf, type OpenClawPlatformArgs } from "@octw/pulumi";
import { declareBaseline } from "./baseline.js";
import { installBenchMocks } from "./mocks.js";
import { IMAGES } from "./with-components.js";

const [mode, tenantsArg, platformArg] = process.argv.slice(2);
const tenants = Number(tenantsArg);
const platformTenants = Number(platformArg);
if ((mode !== "host" && mode !== "single" && mode !== "baseline") || !Number.isInteger(tenants) || tenants < 1 || !Number.isInteger(platformTenants) || platformTenants % tenants !== 0) {
  console.error("usage: per-host-child.ts <host|single|baseline> <tenants per host> <platform tenants, a multiple>");
  process.exit(64);
}

const connection = (user: string) => ({ host: "audit.bench.internal", port: 5432, database: "octw_audit", user, password: `pw-${user}`, sslMode: "verify-full" });
// what the shared stack exports (OpenClawPlatformShared.sharedAudit), as the host stack's StackReference reads it
const shared = { owner: connection("bench_audit_owner"), services: Object.fromEntries(["edge", "router", "shipper", "waker"].map((k) => [k, connection(`bench_audit_${k}`)])), masterKey: "AAAA", adminPassword: "pw-admin" };
const registered = await installBenchMocks((type, name) =>
  type === "pulumi:pulumi:StackReference" ? { name, outputs: { [SHARED_AUDIT_OUTPUT]: shared }, secretOutputNames: [SHARED_AUDIT_OUTPUT] } : undefined,
);

/** The platform of `platformTenants`: hosts h1…hK (K = platformTenants/tenants), each a TLS engine, `tenants` pinned to each. */
function platform(): OpenClawPlatformArgs {
  const hosts = Array.from({ length: platformTenants / tenants }, (_, i) => ({
    name: `h${i + 1}`,
    endpoint: `tcp://10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:2376`,
    tls: { ca: "CA-PEM", cert: "CERT-PEM", key: pulumi.secret("KEY-PEM") },
  }));
  return {
    prefix: "bench",
    images: IMAGES,
    hosts,
    tenants: Array.from({ length: platformTenants }, (_, i) => ({ id: `t${i + 1}`, slot: i + 1, host: `h${Math.floor(i / tenants) + 1}`, presets: ["restricted" as const, "github" as const] })),
    audit: { mode: "external", host: "audit.bench.internal", adminUser: "octw_admin", adminPassword: "pw-admin", sslMode: "verify-full" },
  };
}

const start = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
if (mode === "host") {
  // the last host: its tenants are the last in the list (the planner still plans every one)
  const joined = hostPartOf(platform(), `h${platformTenants / tenants}`, new pulumi.StackReference("organization/octw/shared"));
  new OpenClawPlatform("bench", joined.config, undefined, joined.part);
} else if (mode === "single") {
  new OpenClawPlatform("bench", platform());
} else {
  declareBaseline(tenants);
}
await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
const ms = Number(process.hrtime.bigint() - start) / 1e6;
const cpu = process.cpuUsage(cpuStart);
console.log(JSON.stringify({ mode, tenants: mode === "single" ? platformTenants : tenants, ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, resources: registered() }));
