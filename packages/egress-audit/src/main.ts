#!/usr/bin/env -S node --import tsx
// The egress-audit container's entry point: octw-egress-audit [serve|healthcheck].
//   serve        follow the proxies and ship their refusals; touches a heartbeat file every 10 s
//   healthcheck  exit 0 when the heartbeat is younger than 30 s (the container's healthcheck, so
//                a deploy waits until the shipper really runs)
// Config: JSON at $OCTW_EGRESS_AUDIT_CONFIG (default /etc/octw-egress-audit/config.json).
import { AuditClient } from "@octw/audit";
import { readJsonFile, readSecretFile, runService, serviceSettings, type Running } from "@octw/service-shell";
import { parseShipperConfig } from "./config";
import { startRunner } from "./runner";

const { log, configPath, heartbeat } = serviceSettings("octw-egress-audit", "OCTW_EGRESS_AUDIT");

function serve(): Running<never> {
  const config = parseShipperConfig(readJsonFile("config", configPath));
  const audit = new AuditClient({
    connection: readSecretFile("audit.connectionUrlFile", config.audit.connectionUrlFile),
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  const runner = startRunner(config, audit, log);
  log({ msg: "started", windowMs: config.windowMs, follows: `octw.component=${config.component}` });
  return { drain: () => runner.stop().then(() => audit.close()) };
}

runService({ name: "octw-egress-audit", log, serve, health: { heartbeat }, stopLog: { announce: "stopping", logStopped: false } });
