#!/usr/bin/env -S node --import tsx
// The egress-audit container's entry point: octw-egress-audit [serve|healthcheck].
//   serve        follow the proxies and ship their refusals; touches a heartbeat file every 10 s
//   healthcheck  exit 0 when the heartbeat is younger than 30 s (the container's healthcheck, so
//                a deploy waits until the shipper really runs)
// Config: JSON at $OCTW_EGRESS_AUDIT_CONFIG (default /etc/octw-egress-audit/config.json).
import { AuditClient } from "@octw/audit";
import { jsonLog, readJsonFile, readSecretFile, runService, type Running } from "@octw/service-shell";
import { parseShipperConfig } from "./config";
import { startRunner } from "./runner";

const CONFIG_PATH = process.env.OCTW_EGRESS_AUDIT_CONFIG ?? "/etc/octw-egress-audit/config.json";
const HEARTBEAT_PATH = process.env.OCTW_EGRESS_AUDIT_HEARTBEAT ?? "/tmp/octw-egress-audit.heartbeat";
const HEARTBEAT_MS = 10_000;
const log = jsonLog("octw-egress-audit");

function serve(): Running<never> {
  const config = parseShipperConfig(readJsonFile("config", CONFIG_PATH));
  const audit = new AuditClient({
    connection: readSecretFile("audit.connectionUrlFile", config.audit.connectionUrlFile),
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  const runner = startRunner(config, audit, log);
  log({ msg: "started", windowMs: config.windowMs, follows: `octw.component=${config.component}` });
  return { drain: () => runner.stop().then(() => audit.close()) };
}

const heartbeat = { path: HEARTBEAT_PATH, everyMs: HEARTBEAT_MS };
runService({ name: "octw-egress-audit", log, serve, health: { heartbeat }, stopLog: { announce: "stopping", logStopped: false } });
