#!/usr/bin/env -S node --import tsx
// The router container's entry point:
//   octw-inference-router [serve]      read the config, start, drain on SIGTERM/SIGINT
//   octw-inference-router healthcheck  exit 0 when the local router answers its health path
// Config: JSON at $OCTW_ROUTER_CONFIG (default /etc/octw-inference-router/config.json), nothing
// secret in it. The database URL and the master keyring come from files the config names.
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import http from "node:http";
import { AuditClient, TenantSecrets, validateKeyring, type MasterKey } from "@octw/audit";
import pg from "pg";
import { parseRouterConfig, type RouterConfig } from "./config";
import { ProviderKeyCache } from "./keys";
import { HEALTH_PATH, ROUTER_ACTOR, createInferenceRouter } from "./server";

export const DEFAULT_CONFIG_PATH = "/etc/octw-inference-router/config.json";
const CONFIG_POLL_MS = Number(process.env.OCTW_ROUTER_CONFIG_POLL_MS ?? 2_000);

function log(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component: "octw-inference-router", ...line })}\n`);
}

export function loadConfig(path = process.env.OCTW_ROUTER_CONFIG ?? DEFAULT_CONFIG_PATH): RouterConfig {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`router config ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`router config ${path}: not valid JSON`);
  }
  return parseRouterConfig(json);
}

function readSecretFile(field: string, path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    // Names the field and the path, never the content.
    throw new Error(`${field}: cannot read secret file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** `<version>:<base64 32-byte key>` entries separated by commas or newlines (the `octw secrets` format). */
export function parseKeyring(text: string, source: string): MasterKey[] {
  const keys = text
    .split(/[\s,]+/)
    .filter((e) => e.length > 0)
    .map((entry, i) => {
      const m = /^(\d+):([A-Za-z0-9+/=_-]+)$/.exec(entry);
      if (!m) throw new Error(`${source}: entry ${i + 1} must look like <version>:<base64 key> (the key itself is not shown)`);
      return { version: Number(m[1]), key: Buffer.from(m[2]!, "base64") };
    });
  try {
    return validateKeyring(keys);
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
}

async function serve(): Promise<void> {
  const configPath = process.env.OCTW_ROUTER_CONFIG ?? DEFAULT_CONFIG_PATH;
  const config = loadConfig(configPath);
  const dbUrl = readSecretFile("keys.connectionUrlFile", config.keys.connectionUrlFile);
  const keyring = parseKeyring(readSecretFile("keys.keyringFile", config.keys.keyringFile), `keys.keyringFile ${config.keys.keyringFile}`);
  const audit = new AuditClient({
    connection: config.audit.connectionUrlFile ? readSecretFile("audit.connectionUrlFile", config.audit.connectionUrlFile) : dbUrl,
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  // Fail fast while Postgres is down: the key cache serves stale copies meanwhile.
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4, connectionTimeoutMillis: 2_000, statement_timeout: 5_000 });
  pool.on("error", (err) => log({ msg: "secret store connection", error: err.message }));
  const secrets = new TenantSecrets({ db: pool, keyring, audit, actor: ROUTER_ACTOR });
  const keys = new ProviderKeyCache(secrets, {
    cacheTtlMs: config.keys.cacheTtlMs,
    maxStaleMs: config.keys.maxStaleMs,
    onRefreshError: (tenant, name, err) => log({ msg: "key refresh failed, serving cached copy", tenant, secret: name, error: err instanceof Error ? err.name : "error" }),
  });
  const router = createInferenceRouter(config, { keys, audit, log });
  const addr = await router.listen();
  log({ msg: "listening", address: addr.address, port: addr.port, tenants: config.tenants.length });
  // Tenants come and go without a restart: the file is polled (rewritten from outside the
  // container, where inotify does not reach) and re-read on SIGHUP; an invalid file is logged
  // and the running config kept.
  const reload = (why: string) => {
    try {
      const r = router.reconfigure(loadConfig(configPath));
      log({ msg: "config reloaded", why, ...r });
    } catch (err) {
      log({ msg: "config reload refused, keeping the running config", why, error: err instanceof Error ? err.message : String(err) });
    }
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
    router
      .close()
      .then(() => audit.close())
      .then(() => pool.end())
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
  const status = await new Promise<number>((resolve) => {
    const req = http.request({ host: "127.0.0.1", port: config.listen.port, path: HEALTH_PATH, timeout: 3_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
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
  process.stderr.write(`octw-inference-router: unknown command ${JSON.stringify(command)} (allowed: serve, healthcheck)\n`);
  process.exit(2);
}
