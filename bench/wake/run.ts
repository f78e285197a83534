// npm run bench:wake — wake latency of one real, hardened OpenClaw gateway through the waker
// (packages/waker, in-process on the real engine socket), from paused and from stopped, against
// a plain `docker start` + readiness of the same container in the same run; and how many
// registered tenants fit a host at the measured resident cost. Not a test: it prints numbers.
//
// Measured twice: at the waker's caller (from the wake call until the gateway's /readyz answers
// 200, polled from the host every 20 ms over a test-created bridge), and at the edge (edge.ts: a
// real edge whose idle clock suspends the gateway; from a user's GET for the suspended tenant
// until its answer). Idle RSS before/after the leaner settings: bench/gateway-memory.
//
// Needs DOCKER_HOST (unix socket) and OCTW_IMAGE_OPENCLAW. BENCH_RUNS (default 5) per case.
import { randomBytes } from "node:crypto";
import Dockerode from "dockerode";
import { capacityReport, gatewayRuntimeEnv, gatewayStartPrelude, renderOpenClawConfig, type SuspendPolicy } from "@octw/pulumi";
import { Engine } from "../../packages/waker/src/engine";
import { Waker } from "../../packages/waker/src/waker";
import { atTheEdge } from "./edge";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RUN = `octwb-wake-${randomBytes(3).toString("hex")}`;
const SUBNET = "10.250.91.0/28";
const ADDR = "10.250.91.5";
const UID = 231_000;

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`bench:wake needs ${name} (load .octw/test-env.env)`);
  return v;
}

async function readyAfter(t0: number, deadlineMs = 120_000): Promise<number> {
  for (;;) {
    try {
      const r = await fetch(`http://${ADDR}:18789/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (r.ok) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > deadlineMs) throw new Error("gateway not ready within 120 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const line = (name: string, xs: number[]) => console.log(`${name.padEnd(34)} n=${xs.length}  p50 ${pct(xs, 50).toFixed(0).padStart(6)} ms  p95 ${pct(xs, 95).toFixed(0).padStart(6)} ms`);

async function main(): Promise<void> {
  const host = need("DOCKER_HOST");
  const socketPath = host.replace(/^unix:\/\//, "");
  const image = need("OCTW_IMAGE_OPENCLAW");
  const docker = new Dockerode({ socketPath });
  const labels = { "octw.bench": RUN, "octw.platform": RUN, "octw.tenant": "bench" };
  const net = await docker.createNetwork({ Name: `${RUN}-net`, Internal: true, Labels: labels, IPAM: { Config: [{ Subnet: SUBNET }] } });
  const vol = await docker.createVolume({ Name: `${RUN}-state`, Labels: labels });
  const made: Dockerode.Container[] = [];
  try {
    const config = renderOpenClawConfig({ edgeAddress: "10.250.91.2", allowedOrigins: [] });
    const init = await docker.createContainer({
      Image: image, User: "0:0", Entrypoint: ["/bin/sh", "-c"], Labels: labels,
      Cmd: [`printf '%s' "$CFG" > /s/openclaw.json && chmod 0400 /s/openclaw.json && chown ${UID}:${UID} /s/openclaw.json /s && chmod 0700 /s`],
      Env: [`CFG=${config}`],
      HostConfig: { NetworkMode: "none", CapDrop: ["ALL"], CapAdd: ["CHOWN", "FOWNER"], Binds: [`${vol.name}:/s`] },
    });
    made.push(init);
    await init.start();
    await init.wait();
    const gw = await docker.createContainer({
      name: `${RUN}-gateway`, Hostname: `${RUN}-gateway`, Image: image, User: `${UID}:${UID}`,
      Labels: { ...labels, "octw.component": "gateway" },
      // As TenantGateway starts it (its state check aside): the lean start prelude, then OpenClaw.
      Cmd: ["/bin/sh", "-c", `${gatewayStartPrelude()} exec openclaw gateway run`],
      Env: ["OPENCLAW_STATE_DIR=/var/lib/openclaw", "HOME=/var/lib/openclaw", "XDG_CACHE_HOME=/tmp/.cache", "OPENCLAW_CONFIG_READONLY=1", "OPENCLAW_NO_AUTO_UPDATE=1", "OPENCLAW_DISABLE_BONJOUR=1", ...gatewayRuntimeEnv()],
      HostConfig: {
        ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges:true"], Memory: 1536 * 2 ** 20, MemorySwap: 1536 * 2 ** 20, NanoCpus: 1e9,
        Tmpfs: { "/tmp": `rw,noexec,nosuid,nodev,size=512m,mode=1777,uid=${UID},gid=${UID}` }, Binds: [`${vol.name}:/var/lib/openclaw`], Dns: ["127.0.0.1"], NetworkMode: net.id,
      },
      NetworkingConfig: { EndpointsConfig: { [net.id]: { IPAMConfig: { IPv4Address: ADDR } } } },
    });
    made.push(gw);
    const waker = new Waker({ engine: new Engine({ socketPath }), audit: { record: () => Promise.resolve() }, platform: RUN, wakeTimeoutMs: 120_000, pollMs: 20, stopGraceS: 10 });

    let t0 = performance.now();
    await gw.start();
    console.log(`first start (compile cache cold): ready after ${(await readyAfter(t0)).toFixed(0)} ms`);
    const plain: number[] = [];
    const paused: number[] = [];
    const stopped: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await gw.stop({ t: 10 });
      t0 = performance.now();
      await gw.start();
      plain.push(await readyAfter(t0));
      await waker.suspend("bench", "paused", "bench");
      t0 = performance.now();
      await waker.wake("bench", "running", "bench");
      paused.push(await readyAfter(t0));
      await waker.suspend("bench", "stopped", "bench");
      t0 = performance.now();
      await waker.wake("bench", "running", "bench");
      stopped.push(await readyAfter(t0));
    }
    line("plain docker start → /readyz", plain);
    line("waker wake from paused → /readyz", paused);
    line("waker wake from stopped → /readyz", stopped);
    const edge = await atTheEdge({ gateway: gw, waker, address: ADDR, runs: RUNS });
    line("edge: GET for a paused tenant", edge.paused);
    line("edge: GET for a stopped tenant", edge.stopped);
  } finally {
    for (const c of made) await c.remove({ force: true }).catch(() => {});
    await vol.remove().catch(() => {});
    await net.remove().catch(() => {});
  }
  const suspendable: SuspendPolicy = { pauseAfterS: 300, stopAfterS: 1800 };
  for (const registered of [100, 1000]) {
    const r = capacityReport({ hostMemoryMb: 24_576, maxActive: 30 }, Array.from({ length: registered }, (_, i) => ({ id: `t${i}`, suspend: suspendable, memoryLimitMb: 1536 })));
    console.log(`capacity, 24 GiB host, ${registered} registered, 30 active: ${r.fits ? "fits" : "does not fit"} (${r.explanation})`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
