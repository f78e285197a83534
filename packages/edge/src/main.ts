#!/usr/bin/env -S node --import tsx
// The edge container's entry point:
//   octw-edge [serve]       read the config, start the edge, drain on SIGTERM/SIGINT
//   octw-edge healthcheck   exit 0 when the local edge answers /_edge/healthz with 200
// Config: JSON at $OCTW_EDGE_CONFIG (default /etc/octw-edge/config.json), nothing secret in it.
// Secrets come from files the config names (audit DB URL, TLS key), never from the environment.
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import http from "node:http";
import https from "node:https";
import { AuditClient } from "@octw/audit";
import { toAuditSink } from "./audit-adapter";
import { parseEdgeConfig, type EdgeConfig } from "./config";
import { HEALTH_PATH, createEdge } from "./server";

export const DEFAULT_CONFIG_PATH = "/etc/octw-edge/config.json";
const CONFIG_POLL_MS = Number(process.env.OCTW_EDGE_CONFIG_POLL_MS ?? 2_000);

function log(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component: "octw-edge", ...line })}\n`);
}

export function loadConfig(path = process.env.OCTW_EDGE_CONFIG ?? DEFAULT_CONFIG_PATH): EdgeConfig {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`edge config ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`edge config ${path}: not valid JSON`);
  }
  return parseEdgeConfig(json);
}

function readSecretFile(field: string, path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    // The error names the field and the path, never the content.
    throw new Error(`${field}: cannot read secret file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

async function serve(): Promise<void> {
  const configPath = process.env.OCTW_EDGE_CONFIG ?? DEFAULT_CONFIG_PATH;
  const config = loadConfig(configPath);
  const audit = new AuditClient({
    connection: readSecretFile("audit.connectionUrlFile", config.audit.connectionUrlFile),
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  const tls = config.listen.tls
    ? { cert: readFileSync(config.listen.tls.certFile, "utf8"), key: readSecretFile("listen.tls.keyFile", config.listen.tls.keyFile) }
    : undefined;
  const edge = await createEdge(config, { audit: toAuditSink(audit), tls, log });
  const addr = await edge.listen();
  log({ msg: "listening", address: addr.address, port: addr.port, tenants: config.tenants.length, tls: Boolean(tls) });
  // Tenants come and go without restarting the edge: the file is polled (it is rewritten from
  // another container, where inotify events do not reach) and re-read on SIGHUP. An invalid
  // new config is logged and the running one kept.
  let reloading = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      try {
        const r = await edge.reconfigure(loadConfig(configPath));
        log({ msg: "config reloaded", why, ...r });
      } catch (err) {
        log({ msg: "config reload refused, keeping the running config", why, error: err instanceof Error ? err.message : String(err) });
      }
    });
  };
  watchFile(configPath, { interval: CONFIG_POLL_MS }, (cur, prev) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) reload("file changed");
  });
  process.on("SIGHUP", () => reload("SIGHUP"));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log({ msg: "draining", signal });
    unwatchFile(configPath);
    edge
      .close()
      .then(() => audit.close())
      .then(() => {
        log({ msg: "stopped" });
        process.exit(0);
      })
      .catch((err: unknown) => {
        log({ msg: "shutdown failed", error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function healthcheck(): Promise<void> {
  const config = loadConfig();
  const mod = config.listen.tls ? https : http;
  const status = await new Promise<number>((resolve) => {
    const req = mod.request(
      // Loopback to this very process: its certificate names the public host, not 127.0.0.1.
      { host: "127.0.0.1", port: config.listen.port, path: HEALTH_PATH, timeout: 3_000, rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
  process.exit(status === 200 ? 0 : 1);
}

const command = process.argv[2] ?? "serve";
if (command === "serve") {
  serve().catch((err: unknown) => {
    log({ msg: "failed to start", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
} else if (command === "healthcheck") {
  void healthcheck();
} else {
  process.stderr.write(`octw-edge: unknown command ${JSON.stringify(command)} (allowed: serve, healthcheck)\n`);
  process.exit(2);
}
