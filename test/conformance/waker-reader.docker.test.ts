// The waker image as the Waker component runs it (wakerProcessArgs: root with CAP_SETUID/SETGID
// only, setpriv to 10005 + the engine socket's group, the platform's hardening), on the real
// engine with the real socket mounted: the waker process holds the socket, the jobs reader it
// starts (10006) cannot open it, and the reader still does its work — a suspend through the
// waker's HTTP API reads a stand-in gateway's crafted state database (jobs: scheduled, the wake
// armed before its job), a hostile one is `unreadable` and suspends as asked.
//
// Needs: DOCKER_HOST, OCTW_IMAGE_WAKER, OCTW_IMAGE_BASE. Missing = failure.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wakerProcessArgs, WAKER_UID } from "../../packages/pulumi/src/components/waker";
import { hardenedContainerArgs } from "../../packages/pulumi/src/planners/container-hardening";
import { engine, requireEnv } from "./env";
import { execIn } from "./probe-exec";

const RUN = `octwt-wr-${randomBytes(3).toString("hex")}`;
const TOKEN = randomBytes(24).toString("hex");
const SOCKET = requireEnv("DOCKER_HOST").slice("unix://".length);
const SOCKET_GID = statSync(SOCKET).gid;
const CRON = "CREATE TABLE cron_jobs (store_key TEXT NOT NULL, job_id TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL, state_json TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (store_key, job_id)) STRICT;";

let docker: Dockerode;
let dir: string;
let wakerId: string;
let wakerUrl: string;
const created: Dockerode.Container[] = [];
const volumes: string[] = [];
let network: Dockerode.Network | undefined;

/** The platform's hardening of the waker (container-hardening.ts), as Docker API HostConfig. */
function hardening(): Partial<Dockerode.HostConfig> {
  const h = hardenedContainerArgs({ uid: WAKER_UID, gid: WAKER_UID, limits: { memoryMb: 256, cpus: 0.5, nproc: 128, nofile: 4096 }, tmpfs: [{ path: "/tmp", sizeMb: 64 }] });
  return {
    ReadonlyRootfs: true,
    Privileged: false,
    SecurityOpt: h.securityOpts,
    Tmpfs: h.tmpfs,
    Memory: 256 * 1024 * 1024,
    MemorySwap: 256 * 1024 * 1024,
    Ulimits: h.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
  };
}

/** A stand-in gateway of tenant `id` whose state directory holds `db` (a database built here). */
async function standInGateway(id: string, setup: string): Promise<Dockerode.Container> {
  const stateDir = path.join(dir, id, "state");
  mkdirSync(stateDir, { recursive: true });
  const d = new DatabaseSync(path.join(stateDir, "openclaw.sqlite"));
  d.exec(setup);
  d.close();
  const c = await docker.createContainer({
    name: `${RUN}-${id}-gateway`,
    Image: requireEnv("OCTW_IMAGE_BASE"),
    Cmd: ["/bin/sleep", "infinity"],
    User: "65534:65534",
    StopSignal: "SIGKILL",
    Labels: { "octw.test": RUN, "octw.platform": RUN, "octw.tenant": id, "octw.component": "gateway" },
    HostConfig: { Binds: [`${path.join(dir, id)}:/var/lib/openclaw:ro`], ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], NetworkMode: "none" },
  });
  created.push(c);
  await c.start();
  return c;
}

async function suspend(id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${wakerUrl}/tenants/${id}/suspend?tier=stopped&horizonS=10`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(120_000) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  docker = await engine();
  dir = mkdtempSync(path.join(tmpdir(), "waker-reader-"));
  chmodSync(dir, 0o755);
  const image = requireEnv("OCTW_IMAGE_WAKER");
  network = await docker.createNetwork({ Name: `${RUN}-control`, Labels: { "octw.test": RUN } });
  const volume = `${RUN}-state`;
  volumes.push(volume);
  await docker.createVolume({ Name: volume, Labels: { "octw.test": RUN } });
  // The state volume as the component's init makes it: 0700, 10005's, config and two 0400 secrets.
  const config = { platform: RUN, dockerSocket: SOCKET, jobs: { reader: { uid: 10_006, gid: 10_006 } } };
  const init = await docker.createContainer({
    Image: image,
    User: "0:0",
    Entrypoint: ["sh", "-c", 'mkdir -p /v/config /v/secrets && printf %s "$CFG" > /v/config/config.json && printf %s "$TOKEN" > /v/secrets/waker-token && printf %s "postgres://nobody:x@127.0.0.1:1/none" > /v/secrets/audit-db-url && chmod 400 /v/config/config.json /v/secrets/* && chown -R 10005:10005 /v && chmod 700 /v /v/config /v/secrets'],
    Env: [`CFG=${JSON.stringify(config)}`, `TOKEN=${TOKEN}`],
    Labels: { "octw.test": RUN },
    HostConfig: { Binds: [`${volume}:/v`], NetworkMode: "none" },
  });
  await init.start();
  await init.wait();
  await init.remove();
  const proc = wakerProcessArgs(SOCKET_GID);
  const c = await docker.createContainer({
    name: `${RUN}-waker`,
    Image: image,
    User: proc.user,
    Cmd: proc.command,
    Env: ["OCTW_WAKER_CONFIG=/var/lib/octw-waker/config/config.json", "HOME=/tmp", "TMPDIR=/tmp", "NODE_ENV=production"],
    Labels: { "octw.test": RUN },
    Healthcheck: { Test: proc.healthcheckTests, Interval: 2e9, Timeout: 10e9, StartPeriod: 20e9, Retries: 3 },
    HostConfig: {
      ...hardening(),
      CapDrop: proc.capabilities.drops,
      CapAdd: proc.capabilities.adds,
      Binds: [`${volume}:/var/lib/octw-waker`, `${SOCKET}:${SOCKET}`],
      NetworkMode: `${RUN}-control`,
    },
  });
  created.push(c);
  wakerId = c.id;
  await c.start();
  const ip = (await c.inspect()).NetworkSettings.Networks[`${RUN}-control`]!.IPAddress;
  wakerUrl = `http://${ip}:8790`;
  // healthy = the healthcheck (as the component declares it) passes: the waker serves
  const end = Date.now() + 120_000;
  for (let health = ""; health !== "healthy"; ) {
    if (Date.now() > end) throw new Error(`the waker did not become healthy (${health}): ${(await c.logs({ stdout: true, stderr: true, tail: 20 })).toString().slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 1_000));
    health = (await c.inspect()).State.Health?.Status ?? "";
  }
}, 300_000);

afterAll(async () => {
  for (const c of created) await c.remove({ force: true }).catch(() => {});
  for (const v of volumes) await docker.getVolume(v).remove().catch(() => {});
  await network?.remove().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A node module snippet run in the waker container behind `prefix` (a setpriv), with tsx (the waker's sources are TypeScript). */
async function inWaker(prefix: string[], js: string): Promise<string> {
  const r = await execIn(docker, wakerId, [...prefix, "/usr/local/bin/node", "--import", "tsx", "--input-type=module", "-e", js], { user: "0:0", timeoutMs: 90_000 });
  return `${r.stdout}${r.exitCode === 0 ? "" : ` exit=${r.exitCode} ${r.stderr.slice(0, 200)}`}`;
}
const CONNECT = `const s=(await import("node:net")).connect(${JSON.stringify(SOCKET)});s.on("connect",()=>{process.stdout.write("connected");s.destroy()});s.on("error",e=>process.stdout.write("refused:"+e.code));`;
const CONNECT_CJS = `const s=require("node:net").connect(${JSON.stringify(SOCKET)});s.on("connect",()=>{process.stdout.write("connected");s.destroy()});s.on("error",e=>process.stdout.write("refused:"+e.code));`;

describe("the waker image as the component runs it", () => {
  it("the waker process is 10005 with the socket's group and only CAP_SETUID/CAP_SETGID; only tini is root", async () => {
    // The container's processes, read from the host's /proc (this test runs as root on the host).
    const top = (await docker.getContainer(wakerId).top({ ps_args: "-eo pid" })) as { Processes: string[][] };
    const field = (status: string, k: string) => (new RegExp(`^${k}:\\t(.*)$`, "m").exec(status)?.[1] ?? "").trim();
    const procs = top.Processes.map(([pid]: string[]) => {
      const st = readFileSync(`/proc/${pid}/status`, "utf8");
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      return { name: field(st, "Name"), cmd: cmd.slice(-1)[0] ?? "", uid: field(st, "Uid").split("\t"), groups: field(st, "Groups").split(" ").filter(Boolean).map(Number), capEff: field(st, "CapEff"), capAmb: field(st, "CapAmb") };
    });
    console.log(`waker container processes: ${JSON.stringify(procs)}`);
    expect(procs.filter((p) => p.uid[0] === "0").map((p) => p.name)).toEqual(["tini"]);
    expect(procs.find((p) => p.name === "tini")!.capEff).toBe("00000000000000c0");
    // everything but tini is the waker's uid (node and tsx's esbuild service)
    expect(procs.filter((p) => p.name !== "tini").every((p) => p.uid.every((u) => u === "10005"))).toBe(true);
    const waker = procs.filter((p) => p.name !== "tini" && p.cmd === "/opt/octw-waker/packages/waker/src/main.ts");
    expect(waker).toHaveLength(1);
    expect(waker[0]).toMatchObject({ uid: ["10005", "10005", "10005", "10005"], capEff: "00000000000000c0", capAmb: "00000000000000c0" });
    expect(waker[0]!.groups).toContain(SOCKET_GID);
  });

  it("the waker's identity can open the engine socket; the reader's cannot (same container, same mount)", async () => {
    const asWaker = ["/usr/bin/setpriv", "--reuid=10005", "--regid=10005", `--groups=${SOCKET_GID}`, "--"];
    const asReader = ["/usr/bin/setpriv", "--reuid=10006", "--regid=10006", "--clear-groups", "--inh-caps=-all", "--ambient-caps=-all", "--"];
    expect(await inWaker(asWaker, CONNECT)).toBe("connected");
    expect(await inWaker(asReader, CONNECT)).toBe("refused:EACCES");
    // and the image's own runner, started from the waker process's identity (ambient SETUID/SETGID), says the same
    const viaRunner = await inWaker(
      ["/usr/bin/setpriv", "--reuid=10005", "--regid=10005", `--groups=${SOCKET_GID}`, "--inh-caps=+setgid,+setuid", "--ambient-caps=+setgid,+setuid", "--"],
      `const m = await import("/opt/octw-waker/packages/waker/src/jobs-sandbox.ts");
       const sb = { uid: 10006, gid: 10006, setpriv: "/usr/bin/setpriv", prlimit: "/usr/bin/prlimit", node: process.execPath, timeoutMs: 30000, heapMb: 32, cpuS: 10, maxOutputBytes: 65536 };
       ${CONNECT.replace('process.stdout.write("connected")', 'process.stdout.write("connected / ")').replace('process.stdout.write("refused:"+e.code)', 'process.stdout.write("refused:"+e.code+" / ")')}
       await new Promise((r) => s.on("close", r));
       process.stdout.write((await m.runSandboxed(sb, [process.execPath, "-e", ${JSON.stringify(CONNECT_CJS)}])).toString());`,
    );
    expect(viaRunner).toBe("connected / refused:EACCES");
  });

  it("a suspend reads a stand-in gateway's jobs through the reader: scheduled, the wake armed a lead before the job", async () => {
    const due = Date.now() + 3_600_000;
    await standInGateway("alpha", `${CRON} INSERT INTO cron_jobs VALUES ('s','1','heartbeat-main',1,'{"nextRunAtMs":${due}}');`);
    const r = await suspend("alpha");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: "alpha", state: "stopped", suspended: true, jobs: "scheduled", wakeAtMs: due - 120_000 });
  });

  it("a hostile database (a view calling load_extension) is unreadable in the reader and the suspend goes ahead as asked", async () => {
    await standInGateway("bravo", "CREATE TABLE other (x); CREATE VIEW cron_jobs AS SELECT 1 AS enabled, load_extension('/tmp/x') AS state_json;");
    const r = await suspend("bravo");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: "bravo", state: "stopped", suspended: true, jobs: "unreadable" });
    // positive control that the answer is not always "unreadable": alpha's was read (above); and the waker is still serving
    expect((await docker.getContainer(wakerId).inspect()).State.Health?.Status).toBe("healthy");
  });
});
