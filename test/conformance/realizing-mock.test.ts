// Tests of the realizing mock itself (test/realize): declared fields really show on the engine
// and in Postgres, an unimplemented field throws, and teardown leaves nothing of the run behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import pg from "pg";
import type Dockerode from "dockerode";
import { createRealizingMocks, newRunId, PID_LABEL, RUN_LABEL, sweepDeadRuns, type RealizingMocks } from "../realize/index";
import { engine, requireEnv, valueOf } from "./env";

let dk: Dockerode;
let baseImage: string;
let pgUrl: string;

beforeAll(async () => {
  dk = await engine();
  baseImage = requireEnv("OCTW_IMAGE_BASE");
  pgUrl = requireEnv("OCTW_TEST_PG_URL");
});

async function leftovers(runId: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  const c = await dk.listContainers({ all: true, filters });
  const n = await dk.listNetworks({ filters });
  const v = (await dk.listVolumes({ filters })).Volumes ?? [];
  const byName = (await dk.listContainers({ all: true })).filter((x) => x.Names.some((nm) => nm.includes(runId)));
  return [...c.map((x) => `container ${x.Names[0]}`), ...byName.map((x) => `container ${x.Names[0]}`), ...n.map((x) => `network ${x.Name}`), ...v.map((x) => `volume ${x.Name}`)];
}

async function pgLeftovers(runId: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(
      "SELECT rolname AS n FROM pg_roles WHERE rolname LIKE $1 UNION ALL SELECT datname FROM pg_database WHERE datname LIKE $1",
      [`%${runId}%`],
    );
    return r.rows.map((x) => x.n);
  } finally {
    await c.end();
  }
}

describe("realizing mock: a hand-written program applied to the engine and Postgres", () => {
  const runId = newRunId();
  let rm: RealizingMocks;
  let ctrId: pulumi.Output<string>;
  let ctrNets: pulumi.Output<unknown>;
  let oneShotLogs: pulumi.Output<string | undefined>;
  let password: pulumi.Output<string>;
  let third = 0;

  beforeAll(async () => {
    rm = createRealizingMocks({ runId, docker: dk, log: () => undefined });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    third = 200 + (parseInt(runId.slice(1, 3), 16) % 50);
    const subnet = `10.236.${third}.0/28`;
    const net = new docker.Network("net", {
      name: `${runId}-net`,
      driver: "bridge",
      internal: true,
      ipamConfigs: [{ subnet, gateway: `10.236.${third}.1` }],
      options: { "com.docker.network.bridge.enable_icc": "true" },
      labels: [{ label: "purpose", value: "realize-test" }],
    });
    const vol = new docker.Volume("vol", { name: `${runId}-vol`, labels: [{ label: "purpose", value: "realize-test" }] });
    const img = new docker.RemoteImage("img", { name: baseImage, keepLocally: true });
    const pw = new random.RandomPassword("pw", { length: 24, special: false });
    password = pw.result;
    const ctr = new docker.Container("ctr", {
      name: `${runId}-ctr`,
      image: img.imageId,
      user: "4242:4242",
      hostname: "tenant-x",
      command: ["sleep", "300"],
      envs: [pulumi.interpolate`SECRET_LEN=${pw.result.apply((r) => String(r.length))}`, "PLAIN=1"].map((e) => pulumi.secret(e)),
      labels: [{ label: "octw.tenant", value: "x" }],
      capabilities: { drops: ["ALL"], adds: ["CAP_CHOWN"] },
      securityOpts: ["no-new-privileges:true"],
      readOnly: false,
      tmpfs: { "/tmp": "rw,noexec,nosuid,size=1m" },
      mounts: [{ type: "volume", source: vol.name, target: "/data" }],
      networksAdvanced: [{ name: net.name, ipv4Address: `10.236.${third}.5`, aliases: ["gw-alias"] }],
      networkMode: "bridge",
      memory: 64,
      memorySwap: 64,
      cpus: "0.5",
      ulimits: [{ name: "nproc", soft: 64, hard: 64 }],
      healthcheck: { tests: ["CMD", "cat", "/data/hello.txt"], interval: "1s", timeout: "2s", startPeriod: "1s", retries: 3 },
      restart: "on-failure",
      maxRetryCount: 2,
      uploads: [{ file: "/data/hello.txt", content: "hi\n", permissions: "0440", owner: "4242", group: "4242" }],
      logDriver: "json-file",
      logOpts: { "max-size": "1m" },
      init: false,
      dns: ["127.0.0.1"],
      wait: true,
      waitTimeout: 30,
      stopSignal: "SIGTERM",
      stopTimeout: 3,
      shmSize: 8,
      groupAdds: ["4243"],
      workingDir: "/data",
      ipcMode: "private",
      destroyGraceSeconds: 1,
    });
    ctrId = ctr.id;
    ctrNets = ctr.networkDatas;
    const once = new docker.Container("once", {
      name: `${runId}-once`,
      image: img.imageId,
      command: ["sh", "-c", "echo hello-from-once"],
      attach: true,
      logs: true,
      rm: true,
      mustRun: false,
      networkMode: "none",
    });
    oneShotLogs = once.containerLogs;

    const u = new URL(pgUrl);
    const prov = new postgresql.Provider("pg", {
      host: u.hostname, port: Number(u.port), username: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password), database: "postgres", sslmode: "disable", superuser: true,
    });
    const role = new postgresql.Role("role", { name: `${runId}_writer`, login: true, password: pw.result }, { provider: prov });
    const db = new postgresql.Database("db", { name: `${runId}_db`, owner: role.name }, { provider: prov });
    const schema = new postgresql.Schema("schema", { name: "audit", database: db.name, owner: role.name }, { provider: prov });
    const reader = new postgresql.Role("reader", { name: `${runId}_reader`, login: false }, { provider: prov });
    new postgresql.Grant("grant", {
      database: db.name, role: reader.name, objectType: "schema", schema: schema.name, privileges: ["USAGE"],
    }, { provider: prov });
    await rm.settled();
  }, 120_000);

  afterAll(async () => {
    await rm?.destroyAll();
    expect(await leftovers(runId)).toEqual([]);
    expect(await pgLeftovers(runId)).toEqual([]);
  }, 120_000);

  it("creates the network with the declared IPAM, internal flag, options and labels", async () => {
    const n = (await dk.getNetwork(`${runId}-net`).inspect()) as {
      Internal: boolean; IPAM: { Config: { Subnet: string }[] }; Options: Record<string, string>; Labels: Record<string, string>;
    };
    expect(n.Internal).toBe(true);
    expect(n.IPAM.Config[0]?.Subnet).toBe(`10.236.${third}.0/28`);
    expect(n.Options["com.docker.network.bridge.enable_icc"]).toBe("true");
    expect(n.Labels.purpose).toBe("realize-test");
  });

  it("applies every declared container field (docker inspect)", async () => {
    const id = await valueOf(ctrId);
    const i = await dk.getContainer(id).inspect();
    const h = i.HostConfig as Record<string, unknown>;
    expect(i.Name).toBe(`/${runId}-ctr`);
    expect(i.Config.User).toBe("4242:4242");
    expect(i.Config.Hostname).toBe("tenant-x");
    expect(i.Config.Cmd).toEqual(["sleep", "300"]);
    expect(i.Config.Env).toEqual(expect.arrayContaining(["SECRET_LEN=24", "PLAIN=1"]));
    expect(i.Config.Labels["octw.tenant"]).toBe("x");
    expect(i.Config.WorkingDir).toBe("/data");
    expect((i.Config as { StopSignal?: string }).StopSignal).toBe("SIGTERM");
    expect((i.Config as { StopTimeout?: number }).StopTimeout).toBe(3);
    expect(i.Config.Healthcheck?.Interval).toBe(1e9);
    expect(h.CapDrop).toEqual(["ALL"]);
    expect(h.CapAdd).toEqual(["CAP_CHOWN"]);
    expect(h.SecurityOpt).toEqual(["no-new-privileges:true"]);
    expect(h.ReadonlyRootfs).toBe(false);
    expect(h.Tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=1m" });
    expect(h.Memory).toBe(64 * 1024 * 1024);
    expect(h.MemorySwap).toBe(64 * 1024 * 1024);
    expect(h.NanoCpus).toBe(5e8);
    expect(h.Ulimits).toEqual([{ Name: "nproc", Soft: 64, Hard: 64 }]);
    expect(h.RestartPolicy).toEqual({ Name: "on-failure", MaximumRetryCount: 2 });
    expect(h.LogConfig).toEqual({ Type: "json-file", Config: { "max-size": "1m" } });
    expect(h.Dns).toEqual(["127.0.0.1"]);
    expect(h.ShmSize).toBe(8 * 1024 * 1024);
    expect(h.GroupAdd).toEqual(["4243"]);
    expect(h.IpcMode).toBe("private");
    expect(h.Init).toBe(false);
    // attached to its declared network only, at the declared address, with the alias
    expect(Object.keys(i.NetworkSettings.Networks)).toEqual([`${runId}-net`]);
    const ep = i.NetworkSettings.Networks[`${runId}-net`]!;
    expect(ep.IPAddress).toBe(`10.236.${third}.5`);
    expect(ep.Aliases).toEqual(expect.arrayContaining(["gw-alias"]));
    expect(i.State.Running).toBe(true);
    expect((i.State as { Health?: { Status: string } }).Health?.Status).toBe("healthy");
  });

  it("returns the real network data to the program", async () => {
    const nets = (await valueOf(ctrNets)) as { networkName: string; ipAddress: string }[];
    expect(nets).toEqual([expect.objectContaining({ networkName: `${runId}-net`, ipAddress: `10.236.${third}.5` })]);
  });

  it("uploads before start with the declared mode and owner", async () => {
    const id = await valueOf(ctrId);
    const ex = await dk.getContainer(id).exec({ Cmd: ["stat", "-c", "%a %u %g", "/data/hello.txt"], AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({});
    const chunks: Buffer[] = [];
    await new Promise<void>((res) => {
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("end", () => res());
    });
    const { demuxDockerStream } = await import("../realize/index");
    expect(demuxDockerStream(Buffer.concat(chunks)).trim()).toBe("440 4242 4242");
  });

  it("runs a one-shot container to completion, returns its logs and removes it (rm)", async () => {
    expect(await valueOf(oneShotLogs)).toContain("hello-from-once");
    const all = await dk.listContainers({ all: true });
    expect(all.some((c) => c.Names.includes(`/${runId}-once`))).toBe(false);
  });

  it("records secret inputs and keeps random outputs secret", async () => {
    const rec = rm.find("docker:index/container:Container", "ctr");
    expect(rec?.secretPaths).toContain("envs");
    expect(await pulumi.isSecret(password)).toBe(true);
    expect(await valueOf(password)).toMatch(/^[A-Za-z0-9]{24}$/);
  });

  it("applies Postgres roles, database, schema and grants on the real server", async () => {
    const c = new pg.Client({ connectionString: pgUrl.replace(/\/[^/]*$/, `/${runId}_db`) });
    await c.connect();
    try {
      const r = await c.query<{ owner: string; usage: boolean; login: boolean }>(
        `SELECT pg_get_userbyid(n.nspowner) AS owner, has_schema_privilege($1, 'audit', 'USAGE') AS usage,
                (SELECT rolcanlogin FROM pg_roles WHERE rolname = $2) AS login
           FROM pg_namespace n WHERE nspname = 'audit'`,
        [`${runId}_reader`, `${runId}_writer`],
      );
      expect(r.rows).toEqual([{ owner: `${runId}_writer`, usage: true, login: true }]);
    } finally {
      await c.end();
    }
    // the generated password really is the role's password
    const pw = await valueOf(password);
    const u = new URL(pgUrl);
    const asWriter = new pg.Client({ host: u.hostname, port: Number(u.port), user: `${runId}_writer`, password: pw, database: `${runId}_db` });
    await asWriter.connect();
    await asWriter.end();
  });
});

describe("realizing mock: what it refuses", () => {
  it("throws on a field it does not implement, naming resource and field, and creates nothing", async () => {
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    new docker.Container("gpu", { name: `${runId}-gpu`, image: baseImage, gpus: "all" });
    await expect(rm.settled()).rejects.toThrow(/Container "gpu": field "gpus" is not implemented/);
    await rm.destroyAll();
    expect(await leftovers(runId)).toEqual([]);
  });

  it("throws on a name without the run id, and on privileged", async () => {
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    new docker.Volume("v", { name: "not-this-run" });
    new docker.Container("p", { name: `${runId}-p`, image: baseImage, privileged: true });
    await expect(rm.settled()).rejects.toThrow(/must contain the run id[\s\S]*privileged|privileged[\s\S]*must contain the run id/);
    await rm.destroyAll();
  });

  it("refuses an upload into a read-only container, as the provider's PUT at / is refused", async () => {
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    const v = new docker.Volume("v", { name: `${runId}-v` });
    new docker.Container("ro", {
      name: `${runId}-ro`, image: baseImage, command: ["sleep", "60"], readOnly: true, networkMode: "none",
      mounts: [{ type: "volume", source: v.name, target: "/data" }],
      uploads: [{ file: "/data/x.txt", content: "x" }],
    });
    await expect(rm.settled()).rejects.toThrow(/upload of \/data\/x.txt refused by the engine[\s\S]*read-only/);
    await rm.destroyAll();
    expect(await leftovers(runId)).toEqual([]);
  });

  it("as the provider: a container that dies at once is a successful create with its exit code, and a one-shot's failure is not checked", async () => {
    // kreuzwerker v4.5.0 resource_docker_container_funcs.go: create has no must_run check and
    // never checks an `attach` container's exit code; Read records exit_code. The components gate
    // on exitCode themselves (afterSuccessOf).
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    const dies = new docker.Container("dies", { name: `${runId}-dies`, image: baseImage, command: ["sh", "-c", "exit 3"], networkMode: "none" });
    const once = new docker.Container("once-fails", { name: `${runId}-once-fails`, image: baseImage, command: ["sh", "-c", "exit 4"], networkMode: "none", attach: true, mustRun: false });
    await rm.settled(); // both creates succeed, as they would with the provider
    // the one-shot was waited for: its exit code is recorded
    expect(await valueOf(once.exitCode)).toBe(4);
    // the long-lived one is read right after start: exited (code recorded) or not yet — either
    // way the create stood, and the engine shows it dead with its code
    const code = await valueOf(dies.exitCode);
    expect([undefined, 3]).toContain(code);
    const id = await valueOf(dies.id);
    for (let i = 0; i < 50 && (await dk.getContainer(id).inspect()).State.Running; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await dk.getContainer(id).inspect()).State.ExitCode).toBe(3);
    await rm.destroyAll();
    expect(await leftovers(runId)).toEqual([]);
  });

  it("refuses volumeOptions on an engine below API 1.45, as the provider does (even without a subpath)", async () => {
    const runId = newRunId();
    const api = (await dk.version()).ApiVersion;
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    const v = new docker.Volume("v", { name: `${runId}-v` });
    new docker.Container("vo", { name: `${runId}-vo`, image: baseImage, command: ["sleep", "5"], networkMode: "none", mounts: [{ type: "volume", source: v.name, target: "/d", volumeOptions: { noCopy: true } }] });
    if (api >= "1.45") {
      await rm.settled(); // control: a newer engine takes it
    } else {
      await expect(rm.settled()).rejects.toThrow(/requires docker version 1\.45 or higher/);
    }
    await rm.destroyAll();
    expect(await leftovers(runId)).toEqual([]);
  });

  it("never pulls: an image not on the engine is an error", async () => {
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    new docker.RemoteImage("missing", { name: `octw/does-not-exist-${runId}@sha256:${"0".repeat(64)}` });
    await expect(rm.settled()).rejects.toThrow(/not present on the engine; the provider would pull it, and the realizing mock never pulls/);
    await rm.destroyAll();
  });

  it("tears down after a failure midway: what was created is removed", async () => {
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    const v = new docker.Volume("v", { name: `${runId}-v` });
    new docker.Container("bad", { name: `${runId}-bad`, image: baseImage, mounts: [{ type: "volume", source: v.name, target: "/d" }], devices: [{ hostPath: "/dev/null" }] });
    await expect(rm.settled()).rejects.toThrow(/field "devices"/);
    expect((await dk.listVolumes()).Volumes?.some((x) => x.Name === `${runId}-v`)).toBe(true);
    await rm.destroyAll();
    expect(await leftovers(runId)).toEqual([]);
  });

  it("publishes declared ports on the declared host address and writes dnsOpts/dnsSearches/hosts", async () => {
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    const c = new docker.Container("pub", {
      name: `${runId}-pub`, image: baseImage, command: ["sleep", "60"],
      ports: [{ internal: 8080, external: 0, ip: "127.0.0.1", protocol: "tcp" }],
      dnsOpts: ["timeout:1", "attempts:1"], dnsSearches: ["octw.test"], hosts: [{ host: "svc.octw.test", ip: "127.0.0.9" }],
    });
    await rm.settled();
    const i = await dk.getContainer(await valueOf(c.id)).inspect();
    const h = i.HostConfig as Record<string, unknown>;
    expect(h.PortBindings).toEqual({ "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "0" }] });
    expect(h.DnsOptions).toEqual(["timeout:1", "attempts:1"]);
    expect(h.DnsSearch).toEqual(["octw.test"]);
    expect(h.ExtraHosts).toEqual(["svc.octw.test:127.0.0.9"]);
    await rm.destroyAll();
    expect(await leftovers(runId)).toEqual([]);
  });

  it("sweeps leftovers of a run whose test process died, and leaves live runs alone", async () => {
    const dead = newRunId();
    const live = newRunId();
    const child = spawnSync(process.execPath, ["-e", "process.pid"]);
    const deadPid = child.pid;
    const make = (run: string, pid: number) => dk.createVolume({ Name: `${run}-left`, Labels: { [RUN_LABEL]: run, [PID_LABEL]: String(pid) } });
    await make(dead, deadPid);
    await make(live, process.pid);
    const swept = await sweepDeadRuns(dk);
    expect(swept).toContain(dead);
    expect(swept).not.toContain(live);
    expect(await leftovers(dead)).toEqual([]);
    expect(await leftovers(live)).toEqual([`volume ${live}-left`]);
    await dk.getVolume(`${live}-left`).remove();
  });

  it("runs a dynamic resource's serialized provider with a real require, and deletes at teardown", async () => {
    const runId = newRunId();
    const rm = createRealizingMocks({ runId, docker: dk });
    await pulumi.runtime.setMocks(rm.mocks, "realize", "test", false);
    const file = `/tmp/${runId}-dyn.txt`;
    const provider: pulumi.dynamic.ResourceProvider = {
      create(inputs: { path: string; text: string }) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- serialized providers require at run time
        const nodefs = require("node:fs") as typeof fs;
        nodefs.writeFileSync(inputs.path, inputs.text);
        return Promise.resolve({ id: inputs.path, outs: { path: inputs.path, size: inputs.text.length } });
      },
      delete(id: string) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- serialized providers require at run time
        (require("node:fs") as typeof fs).rmSync(id, { force: true });
        return Promise.resolve();
      },
    };
    class FileRes extends pulumi.dynamic.Resource {
      declare readonly size: pulumi.Output<number>;
      constructor(name: string, args: { path: string; text: string }) {
        super(provider, name, { ...args, size: undefined }, {});
      }
    }
    const r = new FileRes("f", { path: file, text: "hello" });
    await rm.settled();
    expect(await valueOf(r.size)).toBe(5);
    expect(fs.readFileSync(file, "utf8")).toBe("hello");
    await rm.destroyAll();
    expect(fs.existsSync(file)).toBe(false);
  });
});
