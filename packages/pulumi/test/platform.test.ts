import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, platformConfig, settle, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});
beforeEach(() => recorder.reset());

async function deploy(name: string, config: unknown): Promise<RecordedResource[]> {
  new OpenClawPlatform(name, config as OpenClawPlatformArgs);
  await settle();
  return recorder.resources;
}

const THREE = [
  { id: "alpha", slot: 1, presets: ["restricted"] },
  { id: "bravo", slot: 2, presets: ["github", "slack"] },
  { id: "charlie", slot: 3, policy: "version: 1\nnetwork_policies:\n  api:\n    endpoints:\n      - host: api.example.com\n        port: 443\n" },
];

type ContainerInputs = {
  name: string;
  user?: string;
  readOnly?: boolean;
  privileged?: boolean;
  capabilities?: { drops?: string[]; adds?: string[] };
  securityOpts?: string[];
  memory?: number;
  memorySwap?: number;
  ports?: unknown[];
  publishAllPorts?: boolean;
  envs?: string[];
  labels?: { label: string; value: string }[];
  networksAdvanced?: { name: string; ipv4Address?: string }[];
  networkMode?: string;
  tmpfs?: Record<string, string>;
  ulimits?: { name: string; soft: number; hard: number }[];
  dns?: string[];
  hostname?: string;
  uploads?: { file: string; content?: string; permissions?: string; owner?: string }[];
  mounts?: { type: string; source: string; target: string }[];
  healthcheck?: { tests?: string[] };
  image?: string;
};

const label = (c: ContainerInputs, key: string) => c.labels?.find((l) => l.label === key)?.value;

describe("OpenClawPlatform with three tenants", () => {
  let resources: RecordedResource[];
  let containers: ContainerInputs[];
  beforeAll(async () => {
    recorder.reset();
    resources = await deploy("p3", platformConfig(THREE));
    containers = resources.filter((r) => r.type === TYPES.container).map((r) => r.inputs as ContainerInputs);
  });

  it("declares a gateway, an egress proxy and a state-init per tenant, plus Postgres and its init", () => {
    const byComponent = (c: string) => containers.filter((x) => label(x, "octw.component") === c).map((x) => label(x, "octw.tenant")).sort();
    expect(byComponent("gateway")).toEqual(["alpha", "bravo", "charlie"]);
    expect(byComponent("egress-proxy")).toEqual(["alpha", "bravo", "charlie"]);
    expect(byComponent("gateway-state-init")).toEqual(["alpha", "bravo", "charlie"]);
    expect(containers.filter((x) => label(x, "octw.component") === "audit-postgres")).toHaveLength(1);
    expect(containers).toHaveLength(11);
  });

  it("hardens every container: drop ALL, no-new-privileges, seccomp, read-only root, non-root, memory limit, not privileged", () => {
    for (const c of containers) {
      expect(c.capabilities?.drops, c.name).toEqual(["ALL"]);
      expect(c.securityOpts, c.name).toContain("no-new-privileges:true");
      const seccomp = c.securityOpts?.find((o) => o.startsWith("seccomp="));
      expect(seccomp, c.name).toBeDefined();
      expect((JSON.parse(seccomp!.slice("seccomp=".length)) as { defaultAction: string }).defaultAction).toBe("SCMP_ACT_ERRNO");
      // Only one-shot init containers (no network, exit at once) may have a writable root: uploads need it.
      if (label(c, "octw.component")?.endsWith("-init")) expect(c.networkMode, c.name).toBe("none");
      else expect(c.readOnly, c.name).toBe(true);
      expect(c.privileged ?? false, c.name).toBe(false);
      expect(c.memory, c.name).toBeGreaterThan(0);
      expect(c.memorySwap, c.name).toBe(c.memory);
      expect(c.ulimits?.find((u) => u.name === "nproc")?.hard, c.name).toBeGreaterThan(0);
      expect(c.ulimits?.find((u) => u.name === "nofile")?.hard, c.name).toBeGreaterThan(0);
    }
  });

  it("runs long-lived containers as non-root; only one-shot init containers are root, with CHOWN/FOWNER only and no network", () => {
    for (const c of containers) {
      const [uid, gid] = (c.user ?? "").split(":").map(Number);
      if (label(c, "octw.component")?.endsWith("-init")) {
        expect(c.user).toBe("0:0");
        expect(c.capabilities?.adds?.sort()).toEqual(["CHOWN", "FOWNER"]);
        expect(c.networkMode).toBe("none");
        expect(c.networksAdvanced ?? []).toEqual([]);
      } else {
        expect(uid, c.name).toBeGreaterThanOrEqual(1000);
        expect(gid, c.name).toBeGreaterThanOrEqual(1000);
        expect(c.capabilities?.adds ?? [], c.name).toEqual([]);
      }
    }
  });

  it("uploads files only through one-shot init containers (pulumi-docker cannot upload into a read-only root)", () => {
    for (const c of containers) {
      if ((c.uploads ?? []).length > 0) expect(label(c, "octw.component"), c.name).toMatch(/-init$/);
    }
  });

  it("publishes no port at all", () => {
    for (const c of containers) {
      expect(c.ports ?? [], c.name).toEqual([]);
      expect(c.publishAllPorts ?? false, c.name).toBe(false);
    }
  });

  it("gives every tenant a distinct UID for its gateway and its proxy, none shared with another tenant", () => {
    const uids = containers.filter((c) => !label(c, "octw.component")?.endsWith("-init") && label(c, "octw.tenant")).map((c) => c.user!.split(":")[0]);
    expect(new Set(uids).size).toBe(uids.length);
    expect(uids).not.toContain("1000");
  });

  it("makes every tenant network internal, with disjoint explicit subnets and no host address on the bridge", () => {
    const nets = resources.filter((r) => r.type === TYPES.network).map((r) => r.inputs as { name: string; internal?: boolean; ipamConfigs?: { subnet: string }[]; options?: Record<string, string>; labels?: { label: string; value: string }[] });
    const tenantNets = nets.filter((n) => n.labels?.some((l) => l.label === "octw.component" && l.value === "tenant-network"));
    expect(tenantNets).toHaveLength(3);
    const subnets = tenantNets.map((n) => n.ipamConfigs?.[0]?.subnet);
    expect(new Set(subnets).size).toBe(3);
    for (const n of tenantNets) {
      expect(n.internal).toBe(true);
      expect(n.options?.["com.docker.network.bridge.inhibit_ipv4"]).toBe("true");
    }
    const toRange = (s: string) => {
      const [ip, len] = s.split("/");
      const v = ip!.split(".").reduce((a, o) => a * 256 + Number(o), 0);
      return [v, v + 2 ** (32 - Number(len)) - 1] as const;
    };
    const all = nets.map((n) => toRange(n.ipamConfigs![0]!.subnet));
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) expect(all[i]![1] < all[j]![0] || all[j]![1] < all[i]![0]).toBe(true);
    const egress = nets.find((n) => n.name === "octwtest-egress")!;
    expect(egress.options?.["com.docker.network.bridge.enable_icc"]).toBe("false");
    expect(egress.internal).toBe(false);
    expect(nets.find((n) => n.name === "octwtest-control")?.internal).toBe(true);
  });

  it("attaches each gateway to its own tenant network only, at the planned address, with DNS sunk to loopback", () => {
    const netByName = new Map(resources.filter((r) => r.type === TYPES.network).map((r) => [(r.inputs as { name: string }).name, r.inputs as { labels: { label: string; value: string }[] }]));
    for (const g of containers.filter((c) => label(c, "octw.component") === "gateway")) {
      expect(g.networksAdvanced).toHaveLength(1);
      const net = netByName.get(g.networksAdvanced![0]!.name)!;
      expect(net.labels.find((l) => l.label === "octw.tenant")?.value).toBe(label(g, "octw.tenant"));
      expect(g.dns).toEqual(["127.0.0.1"]);
      expect(g.hostname).toBe(g.name);
      expect(g.tmpfs?.["/tmp"]).toMatch(/noexec/);
      expect(g.tmpfs?.["/tmp"]).toMatch(/nosuid/);
      expect(g.tmpfs?.["/tmp"]).toMatch(/nodev/);
      expect(g.tmpfs?.["/tmp"]).toMatch(/size=\d+m/);
      expect(g.mounts?.[0]?.target).toBe("/var/lib/openclaw");
      expect(g.healthcheck?.tests?.join(" ")).toContain("/healthz");
    }
  });

  it("puts each egress proxy on its tenant network and the shared egress network, nowhere else", () => {
    for (const p of containers.filter((c) => label(c, "octw.component") === "egress-proxy")) {
      const names = p.networksAdvanced!.map((n) => n.name);
      expect(names).toEqual([`octwtest-${label(p, "octw.tenant")}-net`, "octwtest-egress"]);
    }
  });

  it("configures OpenClaw for trusted-proxy auth trusting only the edge's address on that tenant's network", () => {
    for (const g of containers.filter((c) => label(c, "octw.component") === "gateway")) {
      const init = containers.find((c) => label(c, "octw.component") === "gateway-state-init" && label(c, "octw.tenant") === label(g, "octw.tenant"))!;
      const upload = init.uploads!.find((u) => u.file === "/state/openclaw.json")!;
      expect(upload.owner).toBe(g.user!.split(":")[0]);
      expect(upload.permissions).toBe("0400");
      const config = JSON.parse(upload.content!) as { gateway: { auth: { mode: string }; trustedProxies: string[] } };
      expect(config.gateway.auth.mode).toBe("trusted-proxy");
      const gatewayIp = g.networksAdvanced![0]!.ipv4Address!;
      const edgeIp = gatewayIp.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) - 3}`);
      expect(config.gateway.trustedProxies).toEqual([edgeIp]);
      expect(g.envs).toContain("HTTPS_PROXY=http://" + gatewayIp.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) - 1}`) + ":3128");
    }
  });

  it("marks generated secrets secret and keeps them out of every container's env", () => {
    const secretValues = resources.filter((r) => r.type === TYPES.password).map((r) => `pw-${r.name}`);
    expect(secretValues.length).toBeGreaterThanOrEqual(3 + 5 + 3); // 3 router tokens, superuser + owner + edge/router/shipper, 3 tenant readers
    for (const c of resources.filter((r) => r.type === TYPES.container)) {
      const env = JSON.stringify((c.inputs as ContainerInputs).envs ?? []);
      for (const s of secretValues) expect(env, c.name).not.toContain(s);
      // Every upload that carries a generated secret arrived as a secret input.
      const uploads = (c.inputs as ContainerInputs).uploads ?? [];
      uploads.forEach((u) => {
        if (secretValues.some((s) => u.content?.includes(s))) {
          expect(c.secretPaths.some((p) => p.startsWith("uploads")), `${c.name} ${u.file}`).toBe(true);
          expect(u.permissions).toBe("0400");
        }
      });
    }
    for (const r of resources.filter((x) => x.type === TYPES.pgRole && (x.inputs as { login: boolean }).login)) expect(r.secretPaths, r.name).toContain("password");
    expect(resources.find((x) => x.type === TYPES.pgProvider)?.secretPaths).toContain("password");
    expect(resources.find((x) => x.type === TYPES.dynamic)?.secretPaths).toContain("password");
  });

  it("pins every image and keeps images locally", () => {
    for (const img of resources.filter((r) => r.type === TYPES.image)) {
      expect(Object.values(PINNED)).toContain((img.inputs as { name: string }).name);
      expect((img.inputs as { keepLocally?: boolean }).keepLocally).toBe(true);
    }
  });

  it("declares the audit database, owner/reader/per-service roles (and the retired writer, NOLOGIN), explicit grants with deleteBeforeReplace semantics, and migrations", () => {
    const roleInputs = resources.filter((r) => r.type === TYPES.pgRole).map((r) => r.inputs as { name: string; login: boolean; roles?: string[]; superuser: boolean; bypassRowLevelSecurity: boolean });
    expect(roleInputs.map((r) => r.name).sort()).toEqual([
      "octwtest_audit_edge",
      "octwtest_audit_owner",
      "octwtest_audit_reader",
      "octwtest_audit_router",
      "octwtest_audit_shipper",
      "octwtest_audit_waker",
      "octwtest_audit_writer",
      "octwtest_reader_alpha",
      "octwtest_reader_bravo",
      "octwtest_reader_charlie",
    ]);
    for (const r of roleInputs) {
      expect(r.superuser, r.name).toBe(false);
      expect(r.bypassRowLevelSecurity, r.name).toBe(false);
    }
    // The reader group cannot log in; each tenant reader is a login member of it, bound to its tenant.
    expect(roleInputs.find((r) => r.name === "octwtest_audit_reader")?.login).toBe(false);
    expect(roleInputs.find((r) => r.name === "octwtest_audit_writer")?.login).toBe(false);
    expect(roleInputs.find((r) => r.name === "octwtest_reader_bravo")).toMatchObject({ login: true, roles: ["octwtest_audit_reader"] });
    const bindings = resources.filter((r) => r.type === TYPES.dynamic && r.name.endsWith("-audit-reader-binding")).map((r) => (r.inputs as { sql: string }).sql);
    expect(bindings).toEqual([
      "SELECT octw.bind_tenant_reader('octwtest_reader_alpha', 'alpha');",
      "SELECT octw.bind_tenant_reader('octwtest_reader_bravo', 'bravo');",
      "SELECT octw.bind_tenant_reader('octwtest_reader_charlie', 'charlie');",
    ]);
    const grants = resources.filter((r) => r.type === TYPES.pgGrant).map((r) => r.inputs as { role: string; privileges: string[]; objects?: string[] });
    expect(grants.length).toBeGreaterThan(2);
    for (const g of grants) expect(Array.isArray(g.privileges)).toBe(true);
    // The services append through append_events only: no privilege on an audit table, no write on any table.
    for (const g of grants.filter((x) => /^octwtest_audit_(edge|router|shipper)$/.test(x.role))) {
      expect((g.objects ?? []).some((o) => o.startsWith("audit")), g.role).toBe(false);
      for (const forbidden of ["INSERT", "UPDATE", "DELETE", "TRUNCATE"]) expect(g.privileges).not.toContain(forbidden);
    }
    expect(grants.filter((g) => g.role === "octwtest_audit_writer")).toEqual([]);
    // PUBLIC loses its default CONNECT on the audit database.
    expect(grants.find((g) => g.role === "public")?.privileges).toEqual([]);
    const migrations = resources.filter((r) => r.type === TYPES.dynamic && r.name.endsWith("-audit-schema"));
    expect(migrations).toHaveLength(1);
    expect(String((migrations[0]!.inputs as { sql: string }).sql)).toMatch(/audit_events/);
  });
});

describe("adding a fourth tenant", () => {
  it("leaves the inputs of every pre-existing resource byte-identical", async () => {
    recorder.reset();
    const before = await deploy("grow", platformConfig(THREE));
    const snapshot = new Map(before.map((r) => [`${r.type}::${r.name}`, JSON.stringify(r.rawInputs)]));
    recorder.reset();
    const after = await deploy("grow", platformConfig([...THREE, { id: "delta", slot: 9 }]));
    const afterMap = new Map(after.map((r) => [`${r.type}::${r.name}`, JSON.stringify(r.rawInputs)]));
    for (const [key, inputs] of snapshot) {
      if (key.startsWith("octw:index:OpenClawPlatform::")) continue; // the component itself has no inputs that reach the engine
      expect(afterMap.get(key), key).toBe(inputs);
    }
    const added = [...afterMap.keys()].filter((k) => !snapshot.has(k));
    expect(added.length).toBeGreaterThan(0);
    expect(added.every((k) => k.includes("-delta"))).toBe(true);
  });
});

