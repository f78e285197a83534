// The Engine API calls backup, restore and move make, over a unix socket or TCP with TLS (the
// forms the platform's hosts use; ssh:// is not supported here yet). node:http only, streaming:
// a state volume can be larger than memory, so archives are never buffered whole. The docker
// CLI is never run: the operator's machine needs no docker binary and no shell quoting.
import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";

export interface EngineEndpoint {
  /** The host's name in the platform config (messages name it, never the endpoint). */
  name: string;
  /** `unix:///path` or `tcp://address:port` (then `tls` is required). */
  url: string;
  tls?: { ca: string; cert: string; key: string };
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
    if (!u.startsWith("unix://") && !u.startsWith("tcp://")) throw new Error(`host ${endpoint.name}: the endpoint must be unix:// or tcp:// (ssh:// is not supported by backup/move yet)`);
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
      } else {
        const u = new URL(e.url);
        req = https.request({ host: u.hostname, port: Number(u.port), method, path, headers, ca: e.tls!.ca, cert: e.tls!.cert, key: e.tls!.key, rejectUnauthorized: true }, onResponse);
      }
      req.on("error", (err) => reject(new EngineError(`host ${e.name}: ${method} ${path.split("?")[0]}: ${err.message}`)));
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
