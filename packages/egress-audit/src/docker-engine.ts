// The two Engine API calls the shipper needs, over the engine's unix socket: list the egress
// proxy containers (by label) and follow one container's stdout. node:http only: the shipper
// is a small deployable and the engine is trusted (threat model), its answers are not.
import http from "node:http";
import { FrameDecoder, splitTimestamp } from "./docker-frames";

export interface ProxyContainer {
  id: string;
  tenant: string;
}

export interface EngineOptions {
  /** Path of the engine's unix socket, e.g. /var/run/docker.sock. */
  socketPath: string;
}

function get(opts: EngineOptions, path: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: opts.socketPath, path, method: "GET", headers: { host: "docker" } }, resolve);
    req.on("error", reject);
    req.end();
  });
}

const TENANT_LABEL = "octw.tenant";
const COMPONENT_LABEL = "octw.component";
const TENANT = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Running containers labelled `octw.component=<component>`, with their `octw.tenant`. */
export async function listProxyContainers(opts: EngineOptions, component = "egress-proxy", labels: Record<string, string> = {}): Promise<ProxyContainer[]> {
  const wanted = [`${COMPONENT_LABEL}=${component}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
  const filters = encodeURIComponent(JSON.stringify({ label: wanted, status: ["running"] }));
  const res = await get(opts, `/containers/json?filters=${filters}`);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  if (res.statusCode !== 200) throw new Error(`engine: listing containers answered HTTP ${res.statusCode}`);
  const list = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Id?: unknown; Labels?: Record<string, unknown> }[];
  const out: ProxyContainer[] = [];
  for (const c of list) {
    const tenant = c.Labels?.[TENANT_LABEL];
    if (typeof c.Id === "string" && /^[0-9a-f]{64}$/.test(c.Id) && typeof tenant === "string" && TENANT.test(tenant)) out.push({ id: c.Id, tenant });
  }
  return out;
}

export interface FollowHandle {
  /** Resolves when the stream ends (container stopped, engine restarted, or stop()). */
  done: Promise<void>;
  stop(): void;
}

/**
 * Follows a container's stdout from `sinceSec` (seconds since the epoch, whole; 0 = from the
 * start). Each complete line is handed to onLine with the engine's receive time.
 */
export function followLogs(opts: EngineOptions, id: string, sinceSec: number, onLine: (text: string, engineTime?: string) => void): FollowHandle {
  let req: http.ClientRequest | undefined;
  let stopped = false;
  const done = new Promise<void>((resolve, reject) => {
    req = http.request(
      { socketPath: opts.socketPath, path: `/containers/${id}/logs?follow=1&stdout=1&stderr=0&timestamps=1&since=${Math.max(0, Math.floor(sinceSec))}`, method: "GET", headers: { host: "docker" } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`engine: logs of ${id.slice(0, 12)} answered HTTP ${res.statusCode}`));
          return;
        }
        const dec = new FrameDecoder();
        res.on("data", (c: Buffer) => {
          for (const l of dec.push(c)) {
            const { time, text } = splitTimestamp(l.text);
            onLine(text, time);
          }
        });
        res.on("end", () => resolve());
        res.on("close", () => resolve());
        res.on("error", (e) => (stopped ? resolve() : reject(e)));
      },
    );
    req.on("error", (e) => (stopped ? resolve() : reject(e)));
    req.end();
  });
  return {
    done,
    stop() {
      stopped = true;
      req?.destroy();
    },
  };
}
