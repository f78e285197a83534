// The Engine API calls backup, restore and move make, over a unix socket, TCP with TLS, or ssh://
// (the forms the platform's hosts use; over ssh the ssh client runs `docker system dial-stdio`
// on the host, as pulumi-docker and the platform's dynamic resources do — one ssh session per
// request, so a stuck transfer never blocks another). node:http only, streaming:
// a state volume can be larger than memory, so archives are never buffered whole. The docker
// CLI is never run: the operator's machine needs no docker binary and no shell quoting.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import https from "node:https";
import { Duplex, type Readable } from "node:stream";

export interface EngineEndpoint {
  /** The host's name in the platform config (messages name it, never the endpoint). */
  name: string;
  /** `unix:///path`, `tcp://address:port` (then `tls` is required) or `ssh://user@host[:port]`. */
  url: string;
  tls?: { ca: string; cert: string; key: string };
  /** ssh client options for an ssh:// endpoint (e.g. `-i`, `-o StrictHostKeyChecking=yes`), before the destination. */
  sshOpts?: string[];
}

export class EngineError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "EngineError";
  }
}

export interface VolumeInfo {
  Name: string;
  Driver: string;
  Labels: Record<string, string> | null;
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; StartedAt: string; FinishedAt: string };
  Mounts: { Type: string; Name?: string; Destination: string }[];
}

const q = encodeURIComponent;

export class Engine {
  constructor(readonly endpoint: EngineEndpoint) {
    const u = endpoint.url;
    if (u.startsWith("tcp://") && !endpoint.tls) throw new Error(`host ${endpoint.name}: a tcp:// engine needs tls (ca, cert, key): the engine API is never used in plaintext`);
    if (!u.startsWith("unix://") && !u.startsWith("tcp://") && !u.startsWith("ssh://")) throw new Error(`host ${endpoint.name}: the endpoint must be unix://, tcp:// or ssh://`);
    if (u.startsWith("ssh://")) {
      let url: URL | undefined;
      try {
        url = new URL(u);
      } catch {
        url = undefined;
      }
      // never the value: it may carry a credential
      if (!url?.hostname || !url.username || url.password || (url.pathname !== "" && url.pathname !== "/")) throw new Error(`host ${endpoint.name}: an ssh:// endpoint must be ssh://user@host[:port] (no password, no path)`);
    }
    if (endpoint.sshOpts !== undefined && !u.startsWith("ssh://")) throw new Error(`host ${endpoint.name}: sshOpts apply to an ssh:// endpoint only`);
  }

  /** An ssh session running the engine's dial-stdio: its stdio is the HTTP connection. */
  private sshChannel(): { socket: Duplex; child: ChildProcess } {
    const u = new URL(this.endpoint.url);
    const args = [...(this.endpoint.sshOpts ?? []), ...(u.port ? ["-p", u.port] : []), "--", `${decodeURIComponent(u.username)}@${u.hostname}`, "docker", "system", "dial-stdio"];
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "ignore"] });
    return { socket: Duplex.from({ readable: child.stdout, writable: child.stdin }), child };
  }

  /** Sends one request; `body` may be a stream (an archive). Resolves with the response stream. */
  private send(method: string, path: string, body?: { type: string; data: Buffer | Readable }): Promise<http.IncomingMessage> {
    const e = this.endpoint;
    // over TLS the Host header must stay the engine's address: node checks the certificate against it
    const headers: Record<string, string | number> = e.url.startsWith("unix://") ? { host: "docker" } : {};
    if (body) {
      headers["content-type"] = body.type;
      if (Buffer.isBuffer(body.data)) headers["content-length"] = body.data.length;
    }
    return new Promise((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage) => resolve(res);
      let req: http.ClientRequest;
      if (e.url.startsWith("unix://")) {
        req = http.request({ socketPath: e.url.slice("unix://".length), method, path, headers }, onResponse);
      } else if (e.url.startsWith("ssh://")) {
        const { socket, child } = this.sshChannel();
        let answered = false;
        let channelError: string | undefined;
        // no agent: the request uses this session (an agent would open its own connection);
        // the session ends with the response (an archive is read to its end first)
        req = http.request({ createConnection: () => socket, method, path, headers: { ...headers, host: "docker" } }, (res) => {
          answered = true;
          res.once("close", () => child.kill());
          onResponse(res);
        });
        // A dead channel shows as an HTTP error (hang up, EPIPE) or as the client's exit, in
        // either order: the session ends the client, and the one answer is given when it has
        // ended ("close": its output read), with its exit code — a failure, never a hang.
        const end = (why: string) => {
          channelError ??= why;
          child.kill();
        };
        socket.on("error", (err) => end(err.message));
        req.on("error", (err) => end(err.message));
        child.on("error", (err) => end(`the ssh client: ${err.message}`));
        child.on("close", (code) => {
          if (answered) return;
          const why = code !== null && code !== 0 ? `the ssh client exited (${code}) before the engine answered` : (channelError ?? "the ssh session ended before the engine answered");
          reject(new EngineError(`host ${e.name}: ${method} ${path.split("?")[0]}: ${why}`));
        });
      } else {
        const u = new URL(e.url);
        req = https.request({ host: u.hostname, port: Number(u.port), method, path, headers, ca: e.tls!.ca, cert: e.tls!.cert, key: e.tls!.key, rejectUnauthorized: true }, onResponse);
      }
      if (!e.url.startsWith("ssh://")) req.on("error", (err) => reject(new EngineError(`host ${e.name}: ${method} ${path.split("?")[0]}: ${err.message}`)));
      if (!body) req.end();
      else if (Buffer.isBuffer(body.data)) req.end(body.data);
      else {
        body.data.on("error", (err) => req.destroy(err));
        body.data.pipe(req);
      }
    });
  }

  private static async text(res: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  /** A request whose answer is small (JSON or empty); non-2xx is an EngineError with the engine's message. */
  async call<T = unknown>(method: string, path: string, json?: unknown, body?: { type: string; data: Buffer | Readable }): Promise<T> {
    const res = await this.send(method, path, json !== undefined ? { type: "application/json", data: Buffer.from(JSON.stringify(json)) } : body);
    const text = await Engine.text(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: the raw text
      }
      throw new EngineError(`host ${this.endpoint.name}: ${method} ${path.split("?")[0]}: ${status} ${message.slice(0, 300)}`, status);
    }
    if (!text || !res.headers["content-type"]?.includes("json")) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      // a progress stream (image import): several JSON documents, none of them needed
      return undefined as T;
    }
  }

  /** GET a container path as a tar stream (the Engine API's archive endpoint). */
  async getArchive(containerId: string, path: string): Promise<Readable> {
    const res = await this.send("GET", `/containers/${q(containerId)}/archive?path=${q(path)}`);
    if (res.statusCode !== 200) throw new EngineError(`host ${this.endpoint.name}: reading the archive: ${res.statusCode} ${(await Engine.text(res)).slice(0, 300)}`, res.statusCode);
    return res;
  }

  /** PUT a tar stream, extracted at `path` in the container (ownership and modes from the tar headers). */
  async putArchive(containerId: string, path: string, tar: Readable): Promise<void> {
    await this.call("PUT", `/containers/${q(containerId)}/archive?path=${q(path)}&noOverwriteDirNonDir=true`, undefined, { type: "application/x-tar", data: tar });
  }

  async volume(name: string): Promise<VolumeInfo | undefined> {
    try {
      return await this.call<VolumeInfo>("GET", `/volumes/${q(name)}`);
    } catch (e) {
      if (e instanceof EngineError && e.status === 404) return undefined;
      throw e;
    }
  }

  createVolume(name: string, labels: Record<string, string>): Promise<VolumeInfo> {
    return this.call<VolumeInfo>("POST", "/volumes/create", { Name: name, Driver: "local", Labels: labels });
  }

  removeVolume(name: string): Promise<void> {
    return this.call("DELETE", `/volumes/${q(name)}`);
  }

  async container(nameOrId: string): Promise<ContainerInfo | undefined> {
    try {
      return await this.call<ContainerInfo>("GET", `/containers/${q(nameOrId)}/json`);
    } catch (e) {
      if (e instanceof EngineError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Containers (running or not) that mount the volume. */
  async containersUsing(volume: string): Promise<{ Id: string; Names: string[]; State: string }[]> {
    return this.call("GET", `/containers/json?all=1&filters=${q(JSON.stringify({ volume: [volume] }))}`);
  }

  async stop(id: string, graceS: number): Promise<void> {
    try {
      await this.call("POST", `/containers/${q(id)}/stop?t=${graceS}`);
    } catch (e) {
      // 304: already stopped
      if (!(e instanceof EngineError && e.status === 304)) throw e;
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.call("POST", `/containers/${q(id)}/start`);
    } catch (e) {
      if (!(e instanceof EngineError && e.status === 304)) throw e;
    }
  }

  /**
   * A throwaway container that is never started: the archive endpoint reads and writes a
   * stopped container's mounts, so the volume's data never meets a running process. No
   * network, no capabilities; read-only unless `writable` (a restore).
   */
  async helper(image: string, volume: string, mountAt: string, writable: boolean, labels: Record<string, string>): Promise<string> {
    const created = await this.call<{ Id: string }>("POST", "/containers/create", {
      Image: image,
      Cmd: ["true"],
      Labels: labels,
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: "none",
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Mounts: [{ Type: "volume", Source: volume, Target: mountAt, ReadOnly: !writable }],
      },
    });
    return created.Id;
  }

  async remove(id: string): Promise<void> {
    try {
      await this.call("DELETE", `/containers/${q(id)}?force=1&v=0`);
    } catch (e) {
      if (!(e instanceof EngineError && e.status === 404)) throw e;
    }
  }
}
