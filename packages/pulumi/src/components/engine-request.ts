import type * as nodeChildProcess from "node:child_process";
import type * as nodeHttp from "node:http";
import type * as nodeHttps from "node:https";
import type * as nodeStream from "node:stream";
import * as pulumi from "@pulumi/pulumi";
import type { HostPlan } from "../planners/hosts.js";

/**
 * How a dynamic resource reaches its host's Docker engine: the same endpoint and credentials as
 * that host's `docker.Provider` (pulumi-docker's `host`, `caMaterial`, `certMaterial`,
 * `keyMaterial`, `sshOpts`). Dynamic resources have no provider of their own package to carry
 * it, so it travels as an input: a deployment never splits across engines. Absent: the program's
 * own engine (DOCKER_HOST, else unix:///var/run/docker.sock), as pulumi-docker's default provider.
 */
export interface EngineConnection {
  /** `unix:///path`, `tcp://address:port` or `ssh://user@host[:port]`. */
  host: string;
  caMaterial?: string;
  certMaterial?: string;
  /** Secret. */
  keyMaterial?: string;
  sshOpts?: string[];
}

/** The engine connection of a planned host (undefined for the program's own engine: the input stays absent). */
export function engineConnectionOf(host: HostPlan): pulumi.Output<EngineConnection> | undefined {
  const e = host.endpoint;
  if (e.kind === "default") return undefined;
  const base = { host: e.url, ...(e.kind === "ssh" && host.sshOpts.length ? { sshOpts: [...host.sshOpts] } : {}) };
  if (e.kind !== "tcp" || !host.tls) return pulumi.output(base);
  // The key is root on that host: the whole connection is a secret in the state.
  return pulumi.secret(pulumi.all([host.tls.ca, host.tls.cert, host.tls.key]).apply(([caMaterial, certMaterial, keyMaterial]) => ({ ...base, caMaterial, certMaterial, keyMaterial })));
}

// Dynamic providers are serialized into the state: this function `require`s what it uses inside
// its body, so it serializes with the providers that call it.
declare const require: (id: string) => unknown;

/**
 * One Engine API request to `engine` (or the program's own engine), as the docker CLI makes it:
 * a unix socket; HTTPS with the client certificate, verifying the engine against the CA; or
 * `docker system dial-stdio` through the ssh client (what pulumi-docker does for ssh://).
 */
export async function engineRequest(
  engine: EngineConnection | undefined,
  method: string,
  path: string,
  body: { type: string; data: Buffer } | undefined,
): Promise<{ status: number; text: string }> {
  const host = engine?.host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  const headers: Record<string, string | number> = body ? { "content-type": body.type, "content-length": body.data.length } : {};
  let transport: typeof nodeHttp | typeof nodeHttps = require("node:http") as typeof nodeHttp;
  let options: nodeHttps.RequestOptions;
  let child: nodeChildProcess.ChildProcess | undefined;
  let channel: nodeStream.Duplex | undefined;
  if (host.startsWith("unix://")) {
    options = { socketPath: host.slice("unix://".length) };
  } else if (host.startsWith("tcp://")) {
    if (!engine?.caMaterial || !engine.certMaterial || !engine.keyMaterial) throw new Error("engine request: a tcp:// engine needs caMaterial, certMaterial and keyMaterial (no plaintext engine API)");
    const u = new URL(host);
    transport = require("node:https") as typeof nodeHttps;
    options = { host: u.hostname, port: Number(u.port), ca: engine.caMaterial, cert: engine.certMaterial, key: engine.keyMaterial, rejectUnauthorized: true };
  } else if (host.startsWith("ssh://")) {
    const u = new URL(host);
    const { spawn } = require("node:child_process") as typeof nodeChildProcess;
    const { Duplex } = require("node:stream") as typeof nodeStream;
    const args = [...(engine?.sshOpts ?? []), ...(u.port ? ["-p", u.port] : []), "--", `${decodeURIComponent(u.username)}@${u.hostname}`, "docker", "system", "dial-stdio"];
    const proc = spawn("ssh", args, { stdio: ["pipe", "pipe", "inherit"] });
    child = proc;
    const socket = Duplex.from({ readable: proc.stdout, writable: proc.stdin });
    channel = socket;
    // no agent: the request then uses this connection (an agent would open its own)
    options = { createConnection: () => socket };
  } else {
    // never the value: it may carry a credential
    throw new Error("engine request: the engine endpoint must be unix://, tcp:// or ssh://");
  }
  try {
    return await new Promise((resolve, reject) => {
      const req = transport.request({ ...options, method, path, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      // the ssh channel: a client that exits (cannot connect) or is missing fails the request;
      // after an answer, its end is just the end
      channel?.on("error", reject);
      child?.on("error", reject);
      child?.on("exit", (code) => reject(new Error(`engine request: the ssh client exited (${code ?? "signal"}) before the engine answered`)));
      req.end(body?.data);
    });
  } finally {
    child?.kill();
  }
}
