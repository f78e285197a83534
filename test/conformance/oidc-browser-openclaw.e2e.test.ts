// Browser end to end with a REAL OpenClaw gateway (the locally built image) for alpha: a person
// signs in through the edge (real edge code, TLS, OIDC) with the test IdP, and OpenClaw's own
// Control UI loads through the edge and connects its WebSocket, with the identity and scopes
// the edge derived from the person's IdP groups. The gateway runs alone on an internal network
// the test creates and trusts only the address the edge's connections come from there (the
// host's side of that bridge: the edge runs in this process). bravo has no gateway: nothing of
// bravo's may load for an alpha member anyway. Screenshots: reports/oidc-browser/openclaw/.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarArchive } from "../realize/tar-archive";
import { engine, requireEnv } from "./env";
import { openControlUi } from "./oidc-browser/control-ui";
import { DOMAIN, POLL, freePort, startHarness, type Harness } from "./oidc-browser/harness";
import { until } from "./until";

const SHOTS = join(process.cwd(), "reports", "oidc-browser", "openclaw");
const run = `oidc${randomBytes(3).toString("hex")}`;
const h8 = (parseInt(run.slice(4, 6), 16) % 200) + 20;
const NET = { name: `${run}-alpha`, subnet: `10.237.${h8}.0/28`, host: `10.237.${h8}.1`, gateway: `10.237.${h8}.5` };
// Where the browser meets the edge: the host side of a second bridge the test creates (an
// address that is neither loopback nor the gateway's trusted proxy, like a real client's).
const INGRESS = { name: `${run}-ingress`, subnet: `10.237.${h8}.16/28`, host: `10.237.${h8}.17` };

let dk: Dockerode;
let h: Harness;
const created = { containers: [] as string[], networks: [] as string[], volumes: [] as string[] };
const t0 = Date.now();

beforeAll(async () => {
  dk = await engine();
  const images = { openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"), base: requireEnv("OCTW_IMAGE_BASE") };
  for (const n of [NET, INGRESS]) {
    await dk.createNetwork({ Name: n.name, Driver: "bridge", Internal: true, IPAM: { Config: [{ Subnet: n.subnet, Gateway: n.host }] }, Labels: { "octw.test.run": run } });
    created.networks.push(n.name);
  }
  const port = await freePort(INGRESS.host);
  const volume = `${run}-gw-alpha`;
  await dk.createVolume({ Name: volume, Labels: { "octw.test.run": run } });
  created.volumes.push(volume);
  // A fresh volume for the gateway's UID, as TenantGateway's state-init does.
  const init = await dk.createContainer({
    name: `${run}-init`, Image: images.base, User: "0:0", Labels: { "octw.test.run": run },
    Cmd: ["/bin/sh", "-c", "chown 10001:10001 /state && chmod 0700 /state"],
    HostConfig: { NetworkMode: "none", CapDrop: ["ALL"], CapAdd: ["CHOWN", "FOWNER"], SecurityOpt: ["no-new-privileges"], Binds: [`${volume}:/state`] },
  });
  created.containers.push(init.id);
  await init.start();
  if (((await init.wait()) as { StatusCode: number }).StatusCode !== 0) throw new Error("state-init failed");
  const gw = await dk.createContainer({
    name: `${run}-gw-alpha`, Image: images.openclaw, Hostname: `${run}-gw-alpha`, Env: ["OPENCLAW_OFFLINE=1"], User: "10001:10001",
    Labels: { "octw.test.run": run },
    HostConfig: {
      ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], Tmpfs: { "/tmp": "rw,nosuid,nodev,size=256m" }, Dns: ["127.0.0.1"],
      Binds: [`${volume}:/var/lib/openclaw`], NetworkMode: NET.name, Memory: 1024 * 1024 * 1024,
    },
    NetworkingConfig: { EndpointsConfig: { [NET.name]: { IPAMConfig: { IPv4Address: NET.gateway } } } },
  });
  created.containers.push(gw.id);
  const openclawJson = JSON.stringify({
    gateway: {
      mode: "local", bind: "lan", port: 18789,
      // The edge (this process) reaches the gateway from the host's address on the bridge.
      trustedProxies: [NET.host],
      // The IdP sign-in at the edge is the approval boundary for new browsers (OpenClaw's
      // deviceAutoApprove, up to every scope, as the platform configures it); the edge's
      // x-openclaw-scopes caps what each person's device session gets.
      auth: { mode: "trusted-proxy", trustedProxy: { userHeader: "x-octw-user", deviceAutoApprove: { enabled: true, scopes: ["operator.admin", "operator.approvals", "operator.pairing", "operator.read", "operator.write"] } } },
      controlUi: { allowedOrigins: [`https://alpha.${DOMAIN}:${port}`] },
    },
    update: { checkOnStart: false },
  });
  await gw.putArchive(tarArchive([{ name: "openclaw.json", content: Buffer.from(openclawJson), mode: 0o600, uid: 10001, gid: 10001 }]), { path: "/var/lib/openclaw" });
  await gw.start();
  // bravo's upstream: an address in the test's own network where nothing listens.
  h = await startHarness({ shots: SHOTS, port, listenHost: INGRESS.host, upstreams: { alpha: `http://${NET.gateway}:18789`, bravo: `http://10.237.${h8}.9:18789` } });
  // This process is the gateway's trusted proxy: its probe carries an identity like the edge's
  // (OpenClaw refuses proxy-shaped traffic without one).
  await until("openclaw gateway", 240_000, async () => {
    const r = await fetch(`http://${NET.gateway}:18789/readyz`, { headers: { "x-octw-user": "probe", "x-openclaw-scopes": "operator.read", "x-forwarded-for": INGRESS.host } }).catch(() => undefined);
    return r?.status === 200 ? true : undefined;
  });
}, 600_000);

afterAll(async () => {
  await h?.close();
  for (const id of created.containers.reverse()) await dk?.getContainer(id).remove({ force: true }).catch(() => {});
  for (const n of created.networks) await dk?.getNetwork(n).remove().catch(() => {});
  for (const v of created.volumes) await dk?.getVolume(v).remove().catch(() => {});
  console.log(`oidc browser suite (real OpenClaw gateway): ${((Date.now() - t0) / 1000).toFixed(1)} s wall, screenshots in ${SHOTS}`);
}, 120_000);

describe("OpenClaw's Control UI through the edge, signed in with the IdP", () => {
  it("a member signs in and OpenClaw's Control UI connects through the edge with read and write; bravo shows no access", async () => {
    const m = await openControlUi(h, "alpha", "mia", "mia-pass-1", { shot: "openclaw-control-ui-member", idpShot: "idp-sign-in" });
    console.log("member session scopes:", m.scopes);
    expect(m.scopes).toEqual(expect.arrayContaining(["operator.read", "operator.write"]));
    expect(m.scopes).not.toContain("operator.admin");
    expect(h.audit.events.some((e) => e.type === "edge.auth.allowed" && e.actor === "mia" && e.detail.transport === "ws" && e.detail.role === "member")).toBe(true);
    const bravo = await m.page.context().newPage();
    await bravo.goto(h.url("bravo", "/"));
    await expect.poll(() => bravo.textContent("h1"), POLL).toBe("You have no access to this tenant");
    await h.snap(bravo, "bravo-no-access");
    await m.close();
  });

  it("a viewer's Control UI session holds read only: OpenClaw will not let it send (the edge caps the device's scopes)", async () => {
    const v = await openControlUi(h, "alpha", "vic", "vic-pass-1", { shot: "openclaw-control-ui-viewer" });
    console.log("viewer session scopes:", v.scopes);
    expect(v.scopes).toContain("operator.read");
    expect(v.scopes).not.toContain("operator.write");
    await v.close();
  });
});
