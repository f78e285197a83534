// An allowlisted name must not become a path to a forbidden address, proved with REAL Squid
// (the egress proxy image running the config SandboxPolicy renders) and DNS answers this test
// controls. Squid's `dst` ACL matches when ANY of a name's addresses matches; the rendered
// config must refuse a name as soon as ONE address is outside the endpoint's allowed_ips.
//
// Everything is a container this test creates, on two internal networks with no route out:
//   tenant net: client (.5) ── proxy (.4)
//   egress net: proxy (.4), "allowed" server A (.10), "forbidden" server F (.20) standing in
//               for 169.254.169.254, and the test's DNS server D (.30), which Squid is
//               pointed at with `dns_nameservers` (appended to the rendered config).
// A and F accept TCP on 8443 and log every connection; F must never see one from the proxy.
//
// Needs: DOCKER_HOST, OCTW_IMAGE_EGRESS, OCTW_IMAGE_OPENCLAW (node for client, servers, DNS).
import { randomBytes } from "node:crypto";
import { renderSquidConfig, type EgressRule } from "@octw/pulumi";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, requireEnv } from "./env";
import { nodeProbe } from "./probe-exec";
import { internalNetwork } from "./proxy-lab";

const RUN = `octwt-dm-${randomBytes(3).toString("hex")}`;
const TENANT_NET = "10.250.11.0/27";
const EGRESS_NET = "10.250.12.0/27";
const IP = { client: "10.250.11.5", proxy: "10.250.11.4", oldProxy: "10.250.11.6", proxyOut: "10.250.12.4", oldProxyOut: "10.250.12.6", allowed: "10.250.12.10", forbidden: "10.250.12.20", dns: "10.250.12.30" };
const PORT = 8443;

// The policy under test: any name under svc.example.com, port 8443, only via A's address.
const RULES: EgressRule[] = [{ policy: "svc", host: "*.svc.example.com", ports: [PORT], allowedIps: [IP.allowed] }];

// name -> successive answers (the last one repeats); TTL 0 so Squid may ask again at any time.
const RECORDS: Record<string, string[][]> = {
  "good.svc.example.com": [[IP.allowed]],
  "bad.svc.example.com": [[IP.forbidden]],
  "mixed.svc.example.com": [[IP.forbidden, IP.allowed]],
  "mixed2.svc.example.com": [[IP.allowed, IP.forbidden]],
  "control.svc.example.com": [[IP.forbidden, IP.allowed]],
  "rebind.svc.example.com": [[IP.allowed], [IP.forbidden]],
};

// A DNS server answering A queries from RECORDS (in order per name), AAAA with no data, other
// names NXDOMAIN; one JSON line per query on stdout.
const DNS_SERVER = `
const dgram = require("dgram"); const records = JSON.parse(process.env.RECORDS); const asked = {};
const s = dgram.createSocket("udp4");
s.on("message", (m, r) => {
  let i = 12; const labels = [];
  while (i < m.length && m[i] !== 0) { labels.push(m.subarray(i + 1, i + 1 + m[i]).toString()); i += 1 + m[i]; }
  i += 1; const type = m.readUInt16BE(i); const end = i + 4; const name = labels.join(".").toLowerCase();
  const seq = records[name]; const n = asked[name] = (asked[name] || 0) + 1;
  const ips = seq && type === 1 ? seq[Math.min(n, seq.length) - 1] : [];
  const h = Buffer.alloc(12); m.copy(h, 0, 0, 2); h[2] = 0x84 | (m[2] & 1); h[3] = 0x80 | (seq ? 0 : 3);
  h.writeUInt16BE(1, 4); h.writeUInt16BE(ips.length, 6);
  const rrs = ips.map((ip) => { const rr = Buffer.alloc(16); rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(0, 6); rr.writeUInt16BE(4, 10); ip.split(".").forEach((o, k) => rr[12 + k] = Number(o)); return rr; });
  s.send(Buffer.concat([h, m.subarray(12, end), ...rrs]), r.port, r.address);
  console.log(JSON.stringify({ q: name, type, n, answered: ips }));
});
s.bind(53, "0.0.0.0", () => console.log(JSON.stringify({ listening: true })));`;

// A TCP server that names itself to whoever connects and logs the peer.
const TCP_SERVER = `
const net = require("net"); const me = process.env.ME;
net.createServer((c) => { console.log(JSON.stringify({ conn: c.remoteAddress })); c.end("I am " + me + "\\n"); }).listen(${PORT}, "0.0.0.0", () => console.log(JSON.stringify({ listening: me })));`;

// CONNECT through a proxy; prints the status line and what the far end said.
const CONNECT = `
const net = require("net"); const [proxy, target] = process.argv.slice(1);
const s = net.connect(3128, proxy); let b = ""; let done = false;
const finish = () => { if (done) return; done = true; s.destroy(); const [head, ...rest] = b.split("\\r\\n\\r\\n");
  console.log(JSON.stringify({ status: head.split("\\r\\n")[0], body: rest.join("\\r\\n\\r\\n") })); process.exit(0); };
s.on("connect", () => s.write("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n"));
s.on("data", (d) => { b += d; if (/^HTTP\\/1\\.1 200/.test(b) ? b.includes("I am") : b.includes("\\r\\n\\r\\n")) setTimeout(finish, 100); });
s.on("error", (e) => { b += "error " + e.code; finish(); }); s.on("close", finish); setTimeout(finish, 8000);`;

let docker: Dockerode;
const containers: Dockerode.Container[] = [];
const networks: Dockerode.Network[] = [];
const c: Record<string, Dockerode.Container> = {};

/** The previous rendering: allow when ANY address is in allowed_ips (Squid's dst semantics). */
function oldRendering(config: string): string {
  return config.replace(/acl ep0_outside dst .*\n/g, "").replace(`acl ep0_port port ${PORT}`, `acl ep0_port port ${PORT}\nacl ep0_ips dst ${IP.allowed}`).replace("!ep0_outside", "ep0_ips");
}

async function logsOf(ct: Dockerode.Container): Promise<Record<string, unknown>[]> {
  const raw = await ct.logs({ stdout: true, stderr: false, follow: false });
  // Multiplexed frames: 8-byte header, then the payload.
  const lines: string[] = [];
  for (let i = 0; i + 8 <= raw.length; ) {
    const len = raw.readUInt32BE(i + 4);
    lines.push(...raw.subarray(i + 8, i + 8 + len).toString("utf8").split("\n"));
    i += 8 + len;
  }
  return lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const connectionsTo = async (server: "allowed" | "forbidden") => (await logsOf(c[server]!)).filter((l) => typeof l.conn === "string").map((l) => String(l.conn).replace(/^::ffff:/, ""));

async function connect(proxy: string, name: string): Promise<{ status: string; body: string }> {
  return nodeProbe<{ status: string; body: string }>(docker, c.client!.id, CONNECT, [proxy, `${name}:${PORT}`], { timeoutMs: 30_000 });
}

beforeAll(async () => {
  docker = await engine();
  const egressImage = requireEnv("OCTW_IMAGE_EGRESS");
  const nodeImage = requireEnv("OCTW_IMAGE_OPENCLAW");
  const net = async (name: string, subnet: string) => {
    const n = await internalNetwork(docker, RUN, subnet, name);
    networks.push(n);
    return n;
  };
  const tenantNet = await net("tenant", TENANT_NET);
  const egressNet = await net("egress", EGRESS_NET);
  const hardening = { ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"] };
  const tmpfs = (paths: string[]) => Object.fromEntries(paths.map((p) => [p, "rw,nosuid,nodev,noexec,size=16m,mode=1777"]));
  const create = async (key: string, opts: { image: string; user: string; net: Dockerode.Network; ip: string; cmd?: string[]; env?: string[]; tmpfs: string[]; sysctls?: Record<string, string> }) => {
    const ct = await docker.createContainer({
      name: `${RUN}-${key}`,
      Image: opts.image,
      User: opts.user,
      ...(opts.cmd ? { Cmd: opts.cmd } : {}),
      Env: opts.env ?? [],
      Labels: { "octw.test": RUN },
      HostConfig: { ...hardening, NetworkMode: opts.net.id, Tmpfs: tmpfs(opts.tmpfs), ...(opts.sysctls ? { Sysctls: opts.sysctls } : {}) },
      NetworkingConfig: { EndpointsConfig: { [opts.net.id]: { IPAMConfig: { IPv4Address: opts.ip } } } },
    });
    containers.push(ct);
    c[key] = ct;
    return ct;
  };
  const node = ["/usr/local/bin/node", "-e"];
  await create("dns", { image: nodeImage, user: "200201:200201", net: egressNet, ip: IP.dns, cmd: [...node, DNS_SERVER], env: [`RECORDS=${JSON.stringify(RECORDS)}`], tmpfs: ["/tmp"], sysctls: { "net.ipv4.ip_unprivileged_port_start": "53" } });
  await create("allowed", { image: nodeImage, user: "200202:200202", net: egressNet, ip: IP.allowed, cmd: [...node, TCP_SERVER], env: ["ME=A"], tmpfs: ["/tmp"] });
  await create("forbidden", { image: nodeImage, user: "200203:200203", net: egressNet, ip: IP.forbidden, cmd: [...node, TCP_SERVER], env: ["ME=F"], tmpfs: ["/tmp"] });
  await create("client", { image: nodeImage, user: "200204:200204", net: tenantNet, ip: IP.client, cmd: [...node, "setInterval(() => {}, 1e9)"], tmpfs: ["/tmp"] });
  // Test only: resolve through the test's DNS server, and let answers expire after 1 s (Squid
  // keeps even a TTL-0 answer for negative_dns_ttl, 1 minute by default) so a changed answer is seen.
  const squidConfig = `${renderSquidConfig({ tenantId: RUN, rules: RULES })}\ndns_nameservers ${IP.dns}\nnegative_dns_ttl 1 second\n`;
  const squidDirs = ["/tmp", "/run/squid", "/var/spool/squid", "/var/log/squid"];
  const proxies = [
    { key: "proxy", config: squidConfig, ip: IP.proxy, out: IP.proxyOut, user: "200205:200205" },
    { key: "oldProxy", config: oldRendering(squidConfig), ip: IP.oldProxy, out: IP.oldProxyOut, user: "200206:200206" },
  ];
  for (const p of proxies) {
    const ct = await create(p.key, { image: egressImage, user: p.user, net: tenantNet, ip: p.ip, env: [`OCTW_SQUID_CONFIG_B64=${Buffer.from(p.config).toString("base64")}`], tmpfs: squidDirs });
    await egressNet.connect({ Container: ct.id, EndpointConfig: { IPAMConfig: { IPv4Address: p.out } } });
  }
  for (const ct of containers) await ct.start();
  // Everything listens before the first probe.
  const end = Date.now() + 60_000;
  for (;;) {
    const ready = await Promise.all([
      logsOf(c.dns!).then((l) => l.some((x) => x.listening === true)),
      logsOf(c.allowed!).then((l) => l.some((x) => x.listening === "A")),
      logsOf(c.forbidden!).then((l) => l.some((x) => x.listening === "F")),
      connect(IP.proxy, "warmup.example.org").then((r) => r.status.startsWith("HTTP/")),
      connect(IP.oldProxy, "warmup.example.org").then((r) => r.status.startsWith("HTTP/")),
    ]);
    if (ready.every(Boolean)) break;
    if (Date.now() > end) throw new Error(`test containers not ready: ${JSON.stringify(ready)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 180_000);

afterAll(async () => {
  for (const ct of containers) await ct.remove({ force: true }).catch(() => {});
  for (const n of networks) await n.remove().catch(() => {});
});

describe("real Squid with allowed_ips: a name with ANY forbidden address is refused", () => {
  it("positive control: the name resolving only to the allowed address is proxied to it", async () => {
    const r = await connect(IP.proxy, "good.svc.example.com");
    expect(r.status).toMatch(/^HTTP\/1\.1 200/);
    expect(r.body).toContain("I am A");
    expect(await connectionsTo("allowed")).toContain(IP.proxyOut);
  });

  it("control of the probe: the previous rendering lets the mixed name through, and the forbidden server sees the proxy connect", async () => {
    const r = await connect(IP.oldProxy, "control.svc.example.com");
    expect(r.status).toMatch(/^HTTP\/1\.1 200/);
    expect(r.body).toContain("I am F");
    expect(await connectionsTo("forbidden")).toContain(IP.oldProxyOut);
  });

  it.each(["bad.svc.example.com", "mixed.svc.example.com", "mixed2.svc.example.com"])("%s is refused (403) and the forbidden address is never connected to", async (name) => {
    const r = await connect(IP.proxy, name);
    expect(r.status).toMatch(/^HTTP\/1\.1 403/);
    expect(r.body).not.toContain("I am");
    expect(await connectionsTo("forbidden")).not.toContain(IP.proxyOut);
  });

  it("a name whose answer changes from the allowed to the forbidden address is decided anew: proxied to A, then refused", async () => {
    const first = await connect(IP.proxy, "rebind.svc.example.com");
    expect(first.status).toMatch(/^HTTP\/1\.1 200/);
    expect(first.body).toContain("I am A");
    await new Promise((r) => setTimeout(r, 2_500)); // past the 1 s cache
    const second = await connect(IP.proxy, "rebind.svc.example.com");
    expect(second.status).toMatch(/^HTTP\/1\.1 403/);
    // The DNS server really was asked again and answered the forbidden address (else this proves nothing).
    const asked = (await logsOf(c.dns!)).filter((l) => l.q === "rebind.svc.example.com" && l.type === 1);
    expect(asked.map((l) => l.answered)).toEqual(expect.arrayContaining([[IP.allowed], [IP.forbidden]]));
    expect(await connectionsTo("forbidden")).not.toContain(IP.proxyOut);
  });

  it("the proxy itself was the only path: nothing but the proxies connected to either server", async () => {
    for (const s of ["allowed", "forbidden"] as const) {
      for (const peer of await connectionsTo(s)) expect([IP.proxyOut, IP.oldProxyOut]).toContain(peer);
    }
  });
});
