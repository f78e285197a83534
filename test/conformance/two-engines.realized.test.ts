// Two Docker engines on this machine (test/realize/second-engine.ts: dockerd in its own network
// namespace, its API on TCP with TLS and client certificates the test generates). One program
// declares the same objects on both — on the program's own engine through the default provider,
// on the second through an explicit docker.Provider — and the realizing mock puts each on the
// engine of its provider. The dynamic NetworkAttachment carries its engine in its inputs and
// attaches on that engine only. Engine TLS: a client with the wrong CA or without a client
// certificate is refused (with a positive control through the same code path).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type Dockerode from "dockerode";
import { NetworkAttachment } from "../../packages/pulumi/src/components/network-attachment";
import { engineRequest } from "../../packages/pulumi/src/components/engine-request";
import { createRealizingMocks, newRunId, RUN_LABEL, type RealizingMocks } from "../realize/index";
import { createResourceRealizer } from "../realize/realizing-mocks";
import { copyImage, startSecondEngine, type SecondEngine } from "../realize/second-engine";
import { engine, requireEnv } from "./env";
import { execIn } from "./probe-exec";

const runId = newRunId();
let dk: Dockerode;
let b: SecondEngine;
let rm: RealizingMocks;
let baseImage: string;
const third = 100 + (parseInt(runId.slice(1, 3), 16) % 100);
const subnet = (n: number) => `10.237.${third}.${n * 16}/28`;
const at = (n: number, host: number) => `10.237.${third}.${n * 16 + host}`;
const timings: Record<string, number> = {};

async function leftovers(d: Dockerode): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  return [
    ...(await d.listContainers({ all: true, filters })).map((c) => `container ${c.Names[0]}`),
    ...(await d.listNetworks({ filters })).map((n) => `network ${n.Name}`),
    ...((await d.listVolumes({ filters })).Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

/** One engine's objects: a network, a volume, a container on it, a side network the container is attached to afterwards. */
function objectsOn(tag: string, opts: pulumi.CustomResourceOptions, engineInput: Record<string, unknown>) {
  const net = new docker.Network(`${tag}-net`, { name: `${runId}-net`, driver: "bridge", internal: true, ipamConfigs: [{ subnet: subnet(0) }] }, opts);
  const side = new docker.Network(`${tag}-side`, { name: `${runId}-side`, driver: "bridge", internal: true, ipamConfigs: [{ subnet: subnet(1) }] }, opts);
  const vol = new docker.Volume(`${tag}-vol`, { name: `${runId}-vol` }, opts);
  const img = new docker.RemoteImage(`${tag}-img`, { name: baseImage, keepLocally: true }, opts);
  const ctr = new docker.Container(
    `${tag}-ctr`,
    {
      name: `${runId}-ctr`, image: img.imageId, command: ["sleep", "600"], user: "4242:4242",
      mounts: [{ type: "volume", source: vol.name, target: "/data" }],
      networksAdvanced: [{ name: net.name, ipv4Address: at(0, 5) }], networkMode: "bridge",
    },
    opts,
  );
  new NetworkAttachment(`${tag}-attach`, { container: ctr.id, network: side.name, ipv4Address: at(1, tag === "a" ? 6 : 7), ...engineInput }, { dependsOn: [side] });
  return ctr.id;
}

beforeAll(async () => {
  dk = await engine();
  baseImage = requireEnv("OCTW_IMAGE_BASE");
  let t = Date.now();
  b = await startSecondEngine(runId);
  timings.startEngineMs = Date.now() - t;
  t = Date.now();
  copyImage(baseImage, b.socket);
  timings.copyImageMs = Date.now() - t;
  rm = createRealizingMocks({ runId, docker: dk, extraEngines: [b.host] });
  await pulumi.runtime.setMocks(rm.mocks, "two-engines", "test", false);
  const pb = new docker.Provider("engine-b", { host: b.host, caMaterial: b.tls.ca, certMaterial: b.tls.cert, keyMaterial: pulumi.secret(b.tls.key) });
  objectsOn("a", {}, {});
  // the positive control of the cross-engine probe: a container of engine A on a bridge with a route out
  const out = new docker.Network("a-out", { name: `${runId}-out`, driver: "bridge", internal: false, ipamConfigs: [{ subnet: subnet(2) }] });
  const outImg = new docker.RemoteImage("a-out-img", { name: baseImage, keepLocally: true });
  new docker.Container("a-out-ctr", { name: `${runId}-out-ctr`, image: outImg.imageId, command: ["sleep", "600"], user: "4242:4242", networksAdvanced: [{ name: out.name }], networkMode: "bridge" });
  objectsOn("b", { provider: pb }, { engine: pulumi.secret({ host: b.host, caMaterial: b.tls.ca, certMaterial: b.tls.cert, keyMaterial: b.tls.key }) });
  t = Date.now();
  await rm.settled();
  timings.realizeMs = Date.now() - t;
}, 300_000);

afterAll(async () => {
  const errors: unknown[] = [];
  try {
    await rm?.destroyAll();
  } catch (e) {
    errors.push(e);
  }
  const left = dk ? await leftovers(dk) : [];
  const leftB = b ? await leftovers(b.docker).catch((e: unknown) => [`(second engine: ${String(e)})`]) : [];
  await b?.stop();
  console.log(`two engines: ${JSON.stringify(timings)}`);
  if (errors.length) throw new AggregateError(errors, "teardown failed");
  expect(left).toEqual([]);
  expect(leftB).toEqual([]);
}, 300_000);

describe("one program, two engines", () => {
  it("each object is on the engine of its provider: the same names on both, distinct objects", async () => {
    const a = await dk.getContainer(`${runId}-ctr`).inspect();
    const bb = await b.docker.getContainer(`${runId}-ctr`).inspect();
    expect(a.Id).not.toBe(bb.Id);
    expect(a.State.Running && bb.State.Running).toBe(true);
    for (const d of [dk, b.docker]) {
      await d.getNetwork(`${runId}-net`).inspect();
      await d.getVolume(`${runId}-vol`).inspect();
    }
    // the records name the provider: b's objects carry the explicit provider, a's none
    const ctrB = rm.find("docker:index/container:Container", "b-ctr")!;
    const ctrA = rm.find("docker:index/container:Container", "a-ctr")!;
    expect(ctrB.provider).toMatch(/::engine-b::dockerprovider-\d+$/);
    expect(ctrA.provider ?? "").not.toMatch(/engine-b/);
    expect(ctrB.id).toBe(bb.Id);
    expect(ctrA.id).toBe(a.Id);
  });

  it("the NetworkAttachment with b's engine attached b's container on b only, the one without on a only", async () => {
    const a = await dk.getContainer(`${runId}-ctr`).inspect();
    const bb = await b.docker.getContainer(`${runId}-ctr`).inspect();
    expect(a.NetworkSettings.Networks[`${runId}-side`]?.IPAddress).toBe(at(1, 6));
    expect(bb.NetworkSettings.Networks[`${runId}-side`]?.IPAddress).toBe(at(1, 7));
    // the engine input arrived as a secret (it holds the client key)
    expect(rm.find("pulumi-nodejs:dynamic:Resource", "b-attach")!.secretPaths.some((p) => p.startsWith("engine"))).toBe(true);
  });

  it("the engine's TLS is verified both ways: wrong CA or no client certificate is refused; the right ones answer", async () => {
    const ping = (e: Parameters<typeof engineRequest>[0]) => engineRequest(e, "GET", "/_ping", undefined);
    expect(await ping({ host: b.host, caMaterial: b.tls.ca, certMaterial: b.tls.cert, keyMaterial: b.tls.key })).toMatchObject({ status: 200, text: "OK" });
    await expect(ping({ host: b.host, caMaterial: b.otherCa, certMaterial: b.tls.cert, keyMaterial: b.tls.key })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    await expect(ping({ host: b.host })).rejects.toThrow(/needs caMaterial, certMaterial and keyMaterial/);
    // without a client certificate the engine ends the handshake; the same raw client with one is answered (positive control)
    const tls = await import("node:tls");
    const raw = (withCert: boolean) =>
      new Promise<string>((resolve) => {
        const s = tls.connect({ host: b.address, port: 2376, ca: b.tls.ca, ...(withCert ? { cert: b.tls.cert, key: b.tls.key } : {}) }, () => {
          s.write("GET /_ping HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n");
        });
        let got = "";
        s.on("data", (c: Buffer) => (got += c.toString()));
        s.on("error", (e: Error) => resolve(`error: ${e.message}`));
        s.on("close", () => resolve(got.startsWith("HTTP/1.1 200") ? "answered" : `closed: ${got.slice(0, 40)}`));
      });
    expect(await raw(true)).toBe("answered");
    const refused = await raw(false);
    expect(refused).not.toBe("answered");
  });

  it("a container on an internal network of engine A does not reach engine B's API; one on a bridge with a route out does (positive control: only TLS client authentication guards it there)", async () => {
    const probe = (ctr: string) => execIn(dk, ctr, ["timeout", "5", "bash", "-c", `</dev/tcp/${b.address}/2376 && echo CONNECTED`], { timeoutMs: 20_000 });
    const inside = await probe(`${runId}-ctr`);
    const control = await probe(`${runId}-out-ctr`);
    expect(control.stdout).toContain("CONNECTED");
    expect(inside.stdout).not.toContain("CONNECTED");
    expect(inside.exitCode).not.toBe(0);
  });

  it("the mock refuses a provider naming an engine the test did not start (it never connects there)", async () => {
    const realizer = createResourceRealizer({ runId, docker: dk, extraEngines: [b.host] });
    await expect(realizer.create("pulumi:providers:docker", "stray", { host: "tcp://192.0.2.99:2376" }, undefined)).rejects.toThrow(/must be the engine under test .* or one of the engines the test started/);
  });
});
