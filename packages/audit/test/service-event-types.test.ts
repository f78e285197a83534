// The database lets each service append exactly SERVICE_EVENT_TYPES[service]; an event type a
// service emits but its role was not granted is refused permanently (42501), i.e. lost. So the
// list must match what each service's source really emits: a new event type in a service fails
// here until it is granted (and reviewed) in @octw/audit.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SERVICE_EVENT_TYPES } from "../src/migrations";

const PACKAGES = fileURLToPath(new URL("../../", import.meta.url));

function sources(pkg: string): string {
  const dir = join(PACKAGES, pkg, "src");
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
}

const literals = (text: string, re: RegExp) => [...new Set([...text.matchAll(re)].map((m) => m[1]!))].sort();

describe("SERVICE_EVENT_TYPES matches what the services emit", () => {
  it("edge: every edge.* event type in @octw/edge's source", () => {
    const found = literals(sources("edge"), /"(edge\.[a-z_]+(?:\.[a-z_]+)+)"/g);
    expect(found.length).toBeGreaterThan(0); // the scan itself finds something
    expect(found).toEqual([...SERVICE_EVENT_TYPES.edge].sort());
  });
  it("router: its `action:` literals, plus secret.read (TenantSecrets.get, which it uses to open keys)", () => {
    const text = sources("inference-router");
    expect(text).toContain("new TenantSecrets(");
    const found = literals(text, /action: "([a-z_.]+)"/g);
    expect(found.length).toBeGreaterThan(0);
    expect([...found, "secret.read"].sort()).toEqual([...SERVICE_EVENT_TYPES.router].sort());
    // TenantSecrets.get records secret.read and nothing else (set/rotate are the operator's).
    const get = readFileSync(join(PACKAGES, "audit/src/tenant-secrets.ts"), "utf8").split("async get(")[1]!.split("\n  }\n")[0]!;
    expect(literals(get, /action: "([a-z_.]+)"/g)).toEqual(["secret.read"]);
  });
  it("waker: its `action:` literals", () => {
    const found = literals(sources("waker"), /action: "([a-z_.]+)"/g);
    expect(found.length).toBeGreaterThan(0);
    expect(found).toEqual([...SERVICE_EVENT_TYPES.waker].sort());
  });
  it("shipper: its `action:` literals", () => {
    const found = literals(sources("egress-audit"), /action: "([a-z_.]+)"/g);
    expect(found).toEqual([...SERVICE_EVENT_TYPES.shipper].sort());
  });
});
