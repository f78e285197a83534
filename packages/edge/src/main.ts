#!/usr/bin/env -S node --import tsx
// The edge container's entry point:
//   octw-edge [serve]       read the config, start the edge, drain on SIGTERM/SIGINT
//   octw-edge healthcheck   exit 0 when the local edge answers /_edge/healthz with 200
// Config: JSON at $OCTW_EDGE_CONFIG (default /etc/octw-edge/config.json), nothing secret in it.
// Secrets come from files the config names (audit DB URL, TLS key), never from the environment.
//
// With `listen.workers` above 1 ("auto": the container's CPU limit) this process is the
// cluster's primary (cluster-primary.ts): it holds the audit client, rate limits and wake, and
// forks workers that each run the edge on the shared port (cluster-worker.ts).
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { AuditClient } from "@octw/audit";
import { readJsonFile, readSecretFile, runService, serviceSettings, type Running } from "@octw/service-shell";
import { toAuditSink } from "./audit-adapter";
import { parseEdgeConfig, type EdgeConfig } from "@octw/contracts";
import { startEdgePrimary, type Loaded } from "./cluster-primary";
import { runEdgeWorker } from "./cluster-worker";
import { workerCount } from "./cpu-limit";
import { HEALTH_PATH, createEdge, type EdgeDeps } from "./server";

const { log, configPath, configPollMs } = serviceSettings("octw-edge", "OCTW_EDGE");

export function loadConfig(path = configPath): EdgeConfig {
  return parseEdgeConfig(readJsonFile("edge config", path));
}

function load(path = configPath): Loaded {
  const raw = readJsonFile("edge config", path);
  return { raw, config: parseEdgeConfig(raw) };
}

/** The TLS key and sign-in secrets: Pulumi secrets mounted as 0400 files. */
function secrets(config: EdgeConfig): Pick<EdgeDeps, "tls" | "oidc"> {
  const tls = config.listen.tls
    ? { cert: readFileSync(config.listen.tls.certFile, "utf8"), key: readSecretFile("listen.tls.keyFile", config.listen.tls.keyFile) }
    : undefined;
  // Browser sign-in: the session-sealing key (shared by every edge of the platform) and the
  // client secret are Pulumi secrets mounted as files, like the TLS key.
  const oidc = config.oidc
    ? {
        sessionKey: Buffer.from(readSecretFile("oidc.sessionKeyFile", config.oidc.sessionKeyFile), "utf8"),
        clientSecret: config.oidc.clientSecretFile ? readSecretFile("oidc.clientSecretFile", config.oidc.clientSecretFile) : undefined,
      }
    : undefined;
  return { tls, oidc };
}

async function serve(): Promise<Running<Loaded>> {
  const loaded = load();
  const { config } = loaded;
  const audit = new AuditClient({
    connection: readSecretFile("audit.connectionUrlFile", config.audit.connectionUrlFile),
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  const wakerToken = (file: string) => readSecretFile("wake.tokenFile", file);
  const workers = workerCount(config.listen.workers);
  if (workers > 1) {
    // Secrets are read here too, so a missing one fails the start with its field named.
    secrets(config);
    const primary = await startEdgePrimary(loaded, { workers, log, sink: toAuditSink(audit), wakerToken });
    log({ msg: "listening", address: primary.address.address, port: primary.address.port, tenants: config.tenants.length, tls: Boolean(config.listen.tls), workers });
    return { reconfigure: (next: Loaded) => primary.reconfigure(next), drain: () => primary.drain().then(() => audit.close()) };
  }
  const { tls, oidc } = secrets(config);
  const edge = await createEdge(config, { audit: toAuditSink(audit), tls, log, oidc, wakerToken });
  const addr = await edge.listen();
  log({ msg: "listening", address: addr.address, port: addr.port, tenants: config.tenants.length, tls: Boolean(tls), workers });
  return { reconfigure: (next: Loaded) => edge.reconfigure(next.config), drain: () => edge.close().then(() => audit.close()) };
}

function healthTarget() {
  const config = loadConfig();
  return { port: config.listen.port, path: HEALTH_PATH, tls: Boolean(config.listen.tls) };
}

if (cluster.isWorker) {
  runEdgeWorker({ log, secrets });
} else {
  // Tenants come and go without restarting the edge: the config file is re-read on change and on SIGHUP.
  const reload = { path: configPath, pollMs: configPollMs, load };
  runService({ name: "octw-edge", log, serve, reload, health: { http: healthTarget } });
}
