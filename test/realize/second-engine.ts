// A second Docker engine on this machine for multi-host tests: dockerd in its own network
// namespace (own data root, exec root, pidfile, socket, bridge and iptables — all per netns),
// reached from the first over a veth pair, its API on TCP with TLS and client certificates the
// test generates (the only form the platform accepts for tcp://). `nsenter --net`, not
// `ip netns exec`: the latter remounts /sys and hides the cgroup mounts dockerd needs (DESIGN.md,
// "Facts learned"). Everything is named after the run id and removed by stop().
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import Dockerode from "dockerode";

export interface SecondEngine {
  /** `tcp://<address>:2376`: what a docker.Provider's `host` names */
  host: string;
  address: string;
  /** its unix socket, for loading images */
  socket: string;
  /** a client over TLS with the test's client certificate */
  docker: Dockerode;
  /** PEM: the CA the engine's certificate is signed by, and the client's certificate and key */
  tls: { ca: string; cert: string; key: string };
  /** a CA the engine does not trust (negative controls) */
  otherCa: string;
  /** the network namespace it runs in (`nsenter --net=/run/netns/<netns>` runs a command there) */
  netns: string;
  /** the first engine's machine on the veth pair, as the second's side sees it */
  peerAddress: string;
  stop(): Promise<void>;
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** CA, server certificate (for the engine's address) and client certificate, EC P-256, valid a day. */
function makeCerts(dir: string, address: string): void {
  const o = (args: string[]) => sh("openssl", args);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  o(["req", "-x509", ...ec, "-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.pem`, "-days", "1", "-subj", "/CN=octw-test-engine-ca"]);
  o(["req", "-x509", ...ec, "-keyout", `${dir}/other-ca.key`, "-out", `${dir}/other-ca.pem`, "-days", "1", "-subj", "/CN=octw-test-other-ca"]);
  for (const [who, ext] of [["server", `subjectAltName=IP:${address}\nextendedKeyUsage=serverAuth\n`], ["client", "extendedKeyUsage=clientAuth\n"]] as const) {
    o(["req", ...ec, "-keyout", `${dir}/${who}.key`, "-out", `${dir}/${who}.csr`, "-subj", `/CN=octw-test-${who}`]);
    writeFileSync(`${dir}/${who}.ext`, ext);
    o(["x509", "-req", "-in", `${dir}/${who}.csr`, "-CA", `${dir}/ca.pem`, "-CAkey", `${dir}/ca.key`, "-CAcreateserial", "-out", `${dir}/${who}.pem`, "-days", "1", "-extfile", `${dir}/${who}.ext`]);
  }
}

/** Starts the engine; rejects (after cleaning up) when it does not answer over TLS within `timeoutMs`. */
export interface SecondEngineOptions {
  /** the engine's `--dns` (its containers' upstream resolvers), e.g. the suite's fake DNS */
  dns?: string[];
  /**
   * A default route over the veth pair: the namespace then reaches the first machine's own
   * addresses (the suite's fake outside and DNS servers, a test's audit server) — as a second
   * host reaches its neighbours. Without it only the veth peer is routed.
   */
  routeOut?: boolean;
}

export async function startSecondEngine(runId: string, log: (l: string) => void = () => undefined, timeoutMs = 90_000, opts: SecondEngineOptions = {}): Promise<SecondEngine> {
  // short paths: containerd's sockets live under the exec root and unix socket paths are short
  const dir = `/tmp/oe${runId.slice(-6)}`;
  const ns = `octw${runId.slice(-8)}`;
  const third = 1 + (parseInt(runId.slice(-4), 16) % 250);
  const hostSide = `oh${runId.slice(-8)}`;
  const nsSide = `on${runId.slice(-8)}`;
  const address = `10.211.${third}.2`;
  let daemon: ChildProcess | undefined;
  const stop = async () => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill("SIGTERM");
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          daemon?.kill("SIGKILL");
          resolve();
        }, 30_000);
        daemon!.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    spawnSync("ip", ["link", "del", hostSide]);
    spawnSync("ip", ["netns", "del", ns]);
    // what dockerd left mounted under its roots (it unmounts on a clean stop)
    spawnSync("sh", ["-c", `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    mkdirSync(`${dir}/tls`, { recursive: true });
    makeCerts(`${dir}/tls`, address);
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["link", "add", hostSide, "type", "veth", "peer", "name", nsSide]);
    sh("ip", ["link", "set", nsSide, "netns", ns]);
    sh("ip", ["addr", "add", `10.211.${third}.1/30`, "dev", hostSide]);
    sh("ip", ["link", "set", hostSide, "up"]);
    const nsIp = [["addr", "add", `${address}/30`, "dev", nsSide], ["link", "set", nsSide, "up"], ["link", "set", "lo", "up"]];
    if (opts.routeOut) nsIp.push(["route", "add", "default", "via", `10.211.${third}.1`]);
    for (const args of nsIp) {
      sh("nsenter", [`--net=/run/netns/${ns}`, "ip", ...args]);
    }
    const socket = `${dir}/docker.sock`;
    daemon = spawn(
      "nsenter",
      [
        `--net=/run/netns/${ns}`, "dockerd",
        "--data-root", `${dir}/data`, "--exec-root", `${dir}/exec`, "--pidfile", `${dir}/docker.pid`,
        "-H", `unix://${socket}`, "-H", `tcp://${address}:2376`,
        "--tlsverify", "--tlscacert", `${dir}/tls/ca.pem`, "--tlscert", `${dir}/tls/server.pem`, "--tlskey", `${dir}/tls/server.key`,
        ...(opts.dns ?? []).flatMap((d) => ["--dns", d]),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    daemon.stderr?.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const tls = { ca: readFileSync(`${dir}/tls/ca.pem`, "utf8"), cert: readFileSync(`${dir}/tls/client.pem`, "utf8"), key: readFileSync(`${dir}/tls/client.key`, "utf8") };
    const client = new Dockerode({ host: address, port: 2376, protocol: "https", ...tls });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await client.ping();
        break;
      } catch (e) {
        if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`second engine did not answer over TLS: ${String(e)}; dockerd: ${stderr.slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    log(`second engine up at tcp://${address}:2376 (netns ${ns})`);
    return { host: `tcp://${address}:2376`, address, socket, docker: client, tls, otherCa: readFileSync(`${dir}/tls/other-ca.pem`, "utf8"), netns: ns, peerAddress: `10.211.${third}.1`, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Copies an image (by id) from the first engine to the second: `docker save | docker load`. */
export function copyImage(imageId: string, toSocket: string): void {
  const r = spawnSync("sh", ["-c", `docker save "$1" | docker -H "unix://$2" load -q`, "copy-image", imageId, toSocket], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`copying ${imageId} to the second engine failed: ${r.stderr}`);
}

