// The only Engine API calls the waker makes, over the engine's unix socket: list a tenant's
// containers by label, read one container's state, and pause/unpause/start/stop it. The socket
// is root-equivalent; this module is the narrow waist: every request path is checked against
// that fixed list before it is sent, so no caller can reach any other endpoint through it.
// node:http only: the engine is trusted (threat model), its answers are still parsed defensively.
import http from "node:http";
import type { Readable } from "node:stream";

export type ContainerAction = "pause" | "unpause" | "start" | "stop";

export interface EngineOptions {
  socketPath: string;
  /** Per-call timeout (a stop waits up to its grace period first). */
  timeoutMs?: number;
}

export interface ContainerSummary {
  id: string;
  labels: Record<string, string>;
}

export interface ContainerState {
  /** created | running | paused | restarting | removing | exited | dead */
  status: string;
  /** healthy | unhealthy | starting, or undefined when the container has no healthcheck. */
  health: string | undefined;
}

const ID = /^[0-9a-f]{64}$/;
/**
 * The only files the waker may read out of a container (a tar through the archive endpoint):
 * OpenClaw's state database and its write-ahead log, where the tenant's scheduled jobs and
 * their next run times are (packages/waker/README.md, "Scheduled jobs"). Exact paths, no
 * directory: nothing else of the tenant's volume can be asked for.
 */
export const READABLE_FILES = Object.freeze(["/var/lib/openclaw/state/openclaw.sqlite", "/var/lib/openclaw/state/openclaw.sqlite-wal"] as const);
export type ReadableFile = (typeof READABLE_FILES)[number];
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** Every request the waker may send, by method and path shape. Anything else throws before it is sent. */
const ALLOWED: readonly { method: string; path: RegExp }[] = [
  { method: "GET", path: /^\/containers\/json\?all=1&filters=[A-Za-z0-9%._-]+$/ },
  { method: "GET", path: /^\/containers\/[0-9a-f]{64}\/json$/ },
  { method: "POST", path: /^\/containers\/[0-9a-f]{64}\/(pause|unpause|start)$/ },
  { method: "POST", path: /^\/containers\/[0-9a-f]{64}\/stop\?t=[0-9]{1,3}$/ },
  { method: "GET", path: new RegExp(`^/containers/[0-9a-f]{64}/archive\\?path=(${READABLE_FILES.map((f) => escapeRe(encodeURIComponent(f))).join("|")})$`) },
];

export class EngineError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = "EngineError";
  }
}

export class Engine {
  private readonly timeoutMs: number;

  constructor(private readonly opts: EngineOptions) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** Exposed for the tests: whether a request would be sent at all. */
  static allows(method: string, path: string): boolean {
    return ALLOWED.some((a) => a.method === method && a.path.test(path));
  }

  private request(method: string, path: string): Promise<{ status: number; body: string }> {
    if (!Engine.allows(method, path)) return Promise.reject(new EngineError(`refused to send ${method} ${path.split("?")[0]} to the engine: not one of the waker's calls`));
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.opts.socketPath, path, method, headers: { host: "docker" }, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          // A listing of one tenant's few containers is small; refuse to buffer an endless answer.
          if (size > 8 * 1024 * 1024) req.destroy(new EngineError("engine answer too large"));
          else chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new EngineError(`engine call ${method} ${path.split("?")[0]} timed out after ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
  }

  /** Containers (any state) carrying ALL the given labels. The engine filters; the caller re-checks. */
  async list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }));
    const res = await this.request("GET", `/containers/json?all=1&filters=${filters}`);
    if (res.status !== 200) throw new EngineError(`engine: listing containers answered HTTP ${res.status}`, res.status);
    const list = JSON.parse(res.body) as unknown;
    if (!Array.isArray(list)) throw new EngineError("engine: container list is not an array");
    const out: ContainerSummary[] = [];
    for (const c of list as { Id?: unknown; Labels?: unknown }[]) {
      if (typeof c.Id !== "string" || !ID.test(c.Id) || typeof c.Labels !== "object" || c.Labels === null) continue;
      const l: Record<string, string> = {};
      for (const [k, v] of Object.entries(c.Labels as Record<string, unknown>)) if (typeof v === "string") l[k] = v;
      out.push({ id: c.Id, labels: l });
    }
    return out;
  }

  async state(id: string): Promise<ContainerState> {
    const res = await this.request("GET", `/containers/${id}/json`);
    if (res.status !== 200) throw new EngineError(`engine: inspecting ${id.slice(0, 12)} answered HTTP ${res.status}`, res.status);
    const j = JSON.parse(res.body) as { State?: { Status?: unknown; Health?: { Status?: unknown } } };
    const status = j.State?.Status;
    if (typeof status !== "string") throw new EngineError(`engine: ${id.slice(0, 12)} has no state`);
    const health = j.State?.Health?.Status;
    return { status, health: typeof health === "string" && health !== "none" ? health : undefined };
  }

  /**
   * The tar the engine makes of one of READABLE_FILES in the container (any state: the engine
   * reads the container's filesystem and volumes, not its processes), or undefined when the file
   * is not there. The caller reads the stream and must destroy it when done.
   */
  archive(id: string, file: ReadableFile): Promise<Readable | undefined> {
    const path = `/containers/${id}/archive?path=${encodeURIComponent(file)}`;
    if (!Engine.allows("GET", path)) return Promise.reject(new EngineError(`refused to send GET /containers/…/archive to the engine: not one of the waker's calls`));
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.opts.socketPath, path, method: "GET", headers: { host: "docker" }, timeout: this.timeoutMs }, (res) => {
        if (res.statusCode === 200) return resolve(res);
        res.resume();
        if (res.statusCode === 404) return resolve(undefined);
        reject(new EngineError(`engine: reading a file of ${id.slice(0, 12)} answered HTTP ${res.statusCode}`, res.statusCode));
      });
      req.on("timeout", () => req.destroy(new EngineError(`engine call GET archive timed out after ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
  }

  /** 204 done, 304 already so: both fine. */
  async act(id: string, action: ContainerAction, stopGraceS = 10): Promise<void> {
    const path = action === "stop" ? `/containers/${id}/stop?t=${stopGraceS}` : `/containers/${id}/${action}`;
    const res = await this.request("POST", path);
    if (res.status !== 204 && res.status !== 304) throw new EngineError(`engine: ${action} of ${id.slice(0, 12)} answered HTTP ${res.status}`, res.status);
  }
}
