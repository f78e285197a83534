// The parts the L7 conformance suites share: an OpenShell policy allowing `GET /repos/**` on a
// fake HTTPS API, that API's server script (it logs every request it serves), a raw HTTPS client
// through a CONNECT proxy (every byte of a bypass attempt is the one sent), the bypass families,
// and certificates made with openssl in a test directory.
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type Dockerode from "dockerode";

export const API_HOST = "api.code.example";
export const API_PORT = 8443;

/** A policy allowing only `GET /repos/**` on the fake API at `apiAddress`. */
export function reposOnlyPolicy(apiAddress: string): string {
  return `
version: 1
network_policies:
  code:
    endpoints:
      - host: ${API_HOST}
        port: ${API_PORT}
        protocol: rest
        enforcement: enforce
        allowed_ips: [${apiAddress}]
        rules:
          - allow: { method: GET, path: "/repos/**" }
`;
}

/** The fake API: HTTPS with /certs/api.pem; logs every request it serves. */
export const API_SERVER = `
const fs = require("fs");
require("https").createServer({ cert: fs.readFileSync("/certs/api.pem"), key: fs.readFileSync("/certs/api.key") }, (req, res) => {
  console.log(JSON.stringify({ seen: req.method + " " + req.url }));
  res.writeHead(200, { "content-type": "text/plain" }); res.end("ok");
}).listen(${API_PORT}, "0.0.0.0");`;

/**
 * Args: proxy (`host:port`, or `-` for the HTTPS_PROXY of the environment), API host, port, CA
 * file (or `-` for node's default trust: the system roots plus NODE_EXTRA_CA_CERTS), requests
 * (JSON: method, path, optional `connect` target and `hostHeader`). CONNECT, TLS, then the raw
 * request line. Prints one JSON list of answers.
 */
export const RAW_HTTPS = `
const net = require("net"), tls = require("tls"), fs = require("fs");
const [proxyArg, host, port, caFile, reqsJson] = process.argv.slice(1);
const proxy = proxyArg === "-" ? new URL(process.env.HTTPS_PROXY) : new URL("http://" + proxyArg);
const one = (r) => new Promise((res) => {
  const s = net.connect(Number(proxy.port), proxy.hostname); let head = ""; let over = false;
  const done = (v) => { if (over) return; over = true; s.destroy(); res(v); };
  s.setTimeout(20000, () => done({ error: "timeout" }));
  s.on("error", (e) => done({ error: e.code || e.message }));
  const target = r.connect || (host + ":" + port);
  s.once("connect", () => s.write("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n"));
  const onData = (d) => {
    head += d; if (head.indexOf("\\r\\n\\r\\n") < 0) return; s.removeListener("data", onData);
    const line = head.split("\\r\\n")[0]; if (!/ 200 /.test(line)) return done({ connect: line });
    const t = tls.connect({ socket: s, servername: host, ...(caFile === "-" ? {} : { ca: fs.readFileSync(caFile) }) }, () => {
      const extra = Object.entries(r.headers || {}).map(([k, v]) => k + ": " + v + "\\r\\n").join("");
      t.write(r.method + " " + r.path + " HTTP/1.1\\r\\nHost: " + (r.hostHeader || (host + ":" + port)) + "\\r\\nConnection: close\\r\\n" + extra + (r.method === "POST" ? "Content-Length: 0\\r\\n" : "") + "\\r\\n");
    });
    let body = ""; t.on("data", (c) => (body += c));
    t.on("end", () => done({ status: Number(body.split(" ")[1]) }));
    t.on("error", (e) => done({ tls: e.code || e.message }));
  };
  s.on("data", onData);
});
(async () => { const out = []; for (const r of JSON.parse(reqsJson)) out.push(await one(r)); console.log(JSON.stringify(out)); })();`;

export type Answer = { status?: number; connect?: string; tls?: string; error?: string };
export type RawRequest = { method: string; path: string; connect?: string; hostHeader?: string; headers?: Record<string, string> };

/** Known ways to smuggle a path past a prefix rule; none may reach the API under `GET /repos/**`. */
export const BYPASS_FAMILIES: [string, string[]][] = [
  ["path parameters", ["/repos;/../user/keys", "/repos/x/..;/..;/user/keys", "/repos/x;.json"]],
  ["percent-encoded slashes", ["/repos%2F..%2Fuser/keys", "/repos/x%2f..%2fuser"]],
  ["double-encoded slashes and dots", ["/repos/%252e%252e/user/keys", "/repos/x%252F..%252Fuser"]],
  ["percent-encoded dots", ["/repos/%2e%2e/user/keys", "/repos/%2E%2E/user/keys", "/repos/.%2e/user/keys"]],
  ["dot segments", ["/repos/../user/keys", "/repos/./x", "/repos/x/../../user/keys"]],
  ["repeated slashes", ["//repos/x", "/repos//x"]],
  ["case", ["/Repos/x", "/REPOS/x"]],
];

/** Every request the fake API logged, in order. */
export async function seenBy(api: Dockerode.Container): Promise<string[]> {
  const logs = (await api.logs({ stdout: true, stderr: false })).toString("utf8");
  return [...logs.matchAll(/\{"seen":"((?:[^"\\]|\\.)*)"\}/g)].map((m) => JSON.parse(`"${m[1]!}"`) as string);
}

/** Certificates made with openssl in `dir`. */
export function certMaker(dir: string) {
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  return {
    /** A self-signed CA: `<name>.pem`, `<name>.key`. */
    ca(name: string, cn = name) {
      openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${cn}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    },
    /** A server certificate for API_HOST (and `alsoFor`) signed by the CA `<caName>.pem/.key`: `<out>.pem`, `<out>.key`. */
    leaf(caName: string, out: string, alsoFor: string[] = []) {
      openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${out}.key`, "-out", `${out}.csr`, "-subj", `/CN=${API_HOST}`]);
      writeFileSync(path.join(dir, `${out}.ext`), `subjectAltName=${[API_HOST, ...alsoFor].map((n) => `DNS:${n}`).join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      openssl(["x509", "-req", "-in", `${out}.csr`, "-CA", `${caName}.pem`, "-CAkey", `${caName}.key`, "-CAcreateserial", "-out", `${out}.pem`, "-days", "2", "-extfile", `${out}.ext`]);
    },
  };
}

/** The one container of `component` of `tenant` in this run (by its labels and the run id in its name), with its user. */
export async function tenantContainer(dk: Dockerode, runId: string, tenant: string, component: string): Promise<{ id: string; user: string }> {
  const list = await dk.listContainers({ filters: { label: [`octw.tenant=${tenant}`, `octw.component=${component}`] } });
  const mine = list.filter((c) => c.Names.some((n) => n.includes(runId)));
  if (mine.length !== 1) throw new Error(`expected one ${component} container of ${tenant} in run ${runId}, found ${mine.length}`);
  return { id: mine[0]!.Id, user: (await dk.getContainer(mine[0]!.Id).inspect()).Config.User };
}

/**
 * The fake API: `dir/api-server.js` (with `dir/api.pem`, `dir/api.key`) run by node from `image`,
 * hardened, on an internal network of the test's own at `address` with the alias API_HOST.
 */
export async function startFakeApi(dk: Dockerode, o: { prefix: string; runId: string; dir: string; subnet: string; address: string; image: string }): Promise<{ net: Dockerode.Network; api: Dockerode.Container }> {
  const labels = { "octw.realize.run": o.runId, "octw.realize.pid": String(process.pid) };
  const net = await dk.createNetwork({ Name: `${o.prefix}-api`, Driver: "bridge", Internal: true, Labels: labels, IPAM: { Config: [{ Subnet: o.subnet }] } });
  const api = await addFakeServer(dk, net, { ...o, name: `${o.prefix}-fake-api`, alias: API_HOST });
  return { net, api };
}

/** One more server of the same script and certificate on the fake API's network, at `address` named `alias`. */
export async function addFakeServer(dk: Dockerode, net: Dockerode.Network, o: { runId: string; dir: string; image: string; name: string; address: string; alias: string }): Promise<Dockerode.Container> {
  const server = await dk.createContainer({
    name: o.name,
    Image: o.image,
    User: "200199:200199",
    Cmd: ["/usr/local/bin/node", "/certs/api-server.js"],
    Labels: { "octw.realize.run": o.runId, "octw.realize.pid": String(process.pid) },
    HostConfig: { ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], NetworkMode: net.id, Binds: [`${o.dir}:/certs:ro`], Tmpfs: { "/tmp": "rw,nosuid,nodev,noexec,size=16m" } },
    NetworkingConfig: { EndpointsConfig: { [net.id]: { IPAMConfig: { IPv4Address: o.address }, Aliases: [o.alias] } } },
  });
  await server.start();
  return server;
}

/** Removes the fake API, then what `destroy` takes down (the stack: its proxies leave the API network), then the network and `dir`. */
export async function teardownFakeApi(o: { api?: Dockerode.Container; more?: (Dockerode.Container | undefined)[]; net?: Dockerode.Network; dir?: string }, destroy: () => Promise<void>): Promise<void> {
  for (const c of [o.api, ...(o.more ?? [])]) await c?.remove({ force: true }).catch(() => {});
  await destroy();
  await o.net?.remove().catch(() => {});
  if (o.dir) rmSync(o.dir, { recursive: true, force: true });
}
