#!/usr/bin/env -S node --import tsx
// The router container's entry point:
//   octw-inference-router [serve]      read the config, start, drain on SIGTERM/SIGINT
//   octw-inference-router healthcheck  exit 0 when the local router answers its health path
// Config: JSON at $OCTW_ROUTER_CONFIG (default /etc/octw-inference-router/config.json), nothing
// secret in it. The database URL and the master keyring come from files the config names.
import { AuditClient, TenantSecrets, parseKeyring } from "@octw/audit";
import { readJsonFile, readSecretFile, runService, serviceSettings, type Running } from "@octw/service-shell";
import pg from "pg";
import { parseRouterConfig, type RouterConfig } from "@octw/contracts";
import { ProviderKeyCache } from "./keys";
import { HEALTH_PATH, ROUTER_ACTOR, createInferenceRouter } from "./server";

const { log, configPath, configPollMs } = serviceSettings("octw-inference-router", "OCTW_ROUTER");

export function loadConfig(path = configPath): RouterConfig {
  return parseRouterConfig(readJsonFile("router config", path));
}


async function serve(): Promise<Running<RouterConfig>> {
  const config = loadConfig();
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
  const drain = () => router.close().then(() => audit.close()).then(() => pool.end());
  return { reconfigure: (next: RouterConfig) => router.reconfigure(next), drain };
}

// Tenants come and go without a restart: the config file is re-read on change and on SIGHUP.
runService({
  name: "octw-inference-router",
  log,
  serve,
  reload: { path: configPath, pollMs: configPollMs, load: loadConfig },
  health: { http: () => ({ port: loadConfig().listen.port, path: HEALTH_PATH, tls: false }) },
});
