import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { EDGE_IMAGE, EDGE_JWT, MockRecorder, PINNED, TYPES, settle, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const config = (tenants: { id: string; slot: number }[]) => ({
  prefix: "octwtest",
  images: { ...PINNED, edge: EDGE_IMAGE },
  edge: { jwt: EDGE_JWT },
  tenants,
  audit: { mode: "embedded" },
});
const deploy = (name: string, cfg: unknown) => recorder.deploy(name, cfg);
const label = (r: RecordedResource, key: string) => (r.inputs.labels as { label: string; value: string }[] | undefined)?.find((l) => l.label === key)?.value;

describe("the edge", () => {
  it("is the only container with a published port, on loopback by default, hardened like the gateways", async () => {
    const rs = await deploy("e1", config([{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }]));
    const published = rs.filter((r) => r.type === TYPES.container && ((r.inputs.ports as unknown[] | undefined) ?? []).length > 0);
    expect(published.map((r) => r.inputs.name)).toEqual(["octwtest-edge"]);
    const edge = published[0]!.inputs as { ports: { internal: number; external: number; ip: string }[]; readOnly: boolean; capabilities: { drops: string[] }; securityOpts: string[]; user: string; networksAdvanced: { name: string }[] };
    expect(edge.ports).toEqual([{ internal: 8443, external: 8443, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(edge.readOnly).toBe(true);
    expect(edge.capabilities.drops).toEqual(["ALL"]);
    expect(edge.securityOpts).toContain("no-new-privileges:true");
    expect(edge.user).toBe("10002:10002");
    // Declared on ingress + control only: tenant networks come as separate attachments.
    expect(edge.networksAdvanced.map((n) => n.name)).toEqual(["octwtest-ingress", "octwtest-control"]);
  });

  it("joins every tenant network through a per-tenant attachment at the address that tenant's gateway trusts", async () => {
    const rs = await deploy("e2", config([{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }]));
    const attachments = rs.filter((r) => r.type === TYPES.dynamic && r.name.endsWith("-edge-attachment")).map((r) => r.inputs as { container: string; network: string; ipv4Address: string });
    // by the edge container's id (the mock's id is "<resource name>-id"): a replaced edge gets new attachments
    const edgeId = `${rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwtest-edge")!.name}-id`;
    expect(attachments).toEqual([
      expect.objectContaining({ container: edgeId, network: "octwtest-alpha-net", ipv4Address: "10.64.0.34" }),
      expect.objectContaining({ container: edgeId, network: "octwtest-bravo-net", ipv4Address: "10.64.0.66" }),
    ]);
    for (const g of rs.filter((r) => r.type === TYPES.container && label(r, "octw.component") === "gateway-state-init")) {
      const cfg = JSON.parse((g.inputs.uploads as { file: string; content: string }[]).find((u) => u.file === "/state/openclaw.json")!.content) as { gateway: { trustedProxies: string[] } };
      const tenant = label(g, "octw.tenant");
      expect(cfg.gateway.trustedProxies).toEqual([attachments.find((a) => a.network === `octwtest-${tenant}-net`)!.ipv4Address]);
    }
  });

  it("gets its config (no tenant list, no secret) and the audit URL (secret) as 0400 files, never as env", async () => {
    const rs = await deploy("e3", config([{ id: "alpha", slot: 1 }]));
    const init = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwtest-edge-state-init")!;
    const uploads = init.inputs.uploads as { file: string; content: string; permissions: string }[];
    const cfg = JSON.parse(uploads.find((u) => u.file === "/state/config/config.json")!.content) as { tenants: unknown[]; routing: { upstreamTemplate: string } };
    expect(cfg.tenants).toEqual([]);
    expect(cfg.routing.upstreamTemplate).toBe("http://octwtest-{tenant}-gateway:18789");
    const url = uploads.find((u) => u.file === "/state/secrets/audit-db-url")!;
    expect(url.content).toMatch(/^postgres:\/\/octwtest_audit_edge:pw-e3-audit-edge-password@10\.63\.1\.2:5432\/octw_audit$/);
    expect(url.permissions).toBe("0400");
    expect(init.secretPaths.some((p) => p.startsWith("uploads"))).toBe(true);
    const edge = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwtest-edge")!;
    expect(JSON.stringify(edge.inputs.envs)).not.toContain("pw-");
  });

  it("adding a tenant adds only that tenant's resources and attachment; the edge's inputs stay byte-identical", async () => {
    const before = await deploy("grow", config([{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }]));
    const snap = new Map(before.map((r) => [`${r.type}::${r.name}`, JSON.stringify(r.rawInputs)]));
    const after = await deploy("grow", config([{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }, { id: "charlie", slot: 3 }]));
    for (const r of after) {
      const key = `${r.type}::${r.name}`;
      if (key.startsWith("octw:index:OpenClawPlatform::")) continue;
      if (snap.has(key)) expect(JSON.stringify(r.rawInputs), key).toBe(snap.get(key));
      else expect(r.name, key).toContain("-charlie");
    }
  });

  it("gets the CPU limit edge.cpus sets (its worker count follows it), 1 by default", async () => {
    const cpusOf = (rs: RecordedResource[]) => rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwtest-edge")!.inputs.cpus;
    const base = config([{ id: "alpha", slot: 1 }]);
    expect(cpusOf(await deploy("cpus1", base))).toBe("1.0");
    expect(cpusOf(await deploy("cpus2", { ...base, edge: { ...base.edge, cpus: 2 } }))).toBe("2.0");
  });

  it("refuses an edge without keys or image", async () => {
    await settle();
    recorder.reset();
    const bad = { ...config([{ id: "alpha", slot: 1 }]), images: PINNED, edge: { jwt: { issuer: "i", audience: "a", algorithms: ["HS256"] } } };
    expect(() => new OpenClawPlatform("bad", bad as unknown as OpenClawPlatformArgs)).toThrow(/edge\.jwt\.algorithms\[0\]: only asymmetric/);
    await settle();
    expect(recorder.resources).toEqual([]);
  });
});
