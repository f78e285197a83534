#!/usr/bin/env -S node --import tsx
// The waker container's entry point: octw-waker [serve|healthcheck].
//   serve        listen for wake/suspend; touches a heartbeat file every 10 s
//   healthcheck  exit 0 when the heartbeat is younger than 30 s (the container's healthcheck)
// Config: JSON at $OCTW_WAKER_CONFIG (default /etc/octw-waker/config.json).
import { AuditClient } from "@octw/audit";
import { readJsonFile, readSecretFile, runService, serviceSettings, type Running } from "@octw/service-shell";
import { parseWakerConfig } from "./config";
import { Engine } from "./engine";
import { readJobRows } from "./job-store";
import { createWakerServer } from "./server";
import { Waker } from "./waker";

const { log, configPath, heartbeat } = serviceSettings("octw-waker", "OCTW_WAKER");

function serve(): Running<never> {
  const config = parseWakerConfig(readJsonFile("config", configPath));
  const token = readSecretFile("tokenFile", config.tokenFile);
  if (token.length < 32) throw new Error(`tokenFile: the token must be at least 32 characters`);
  const audit = new AuditClient({
    connection: readSecretFile("audit.connectionUrlFile", config.audit.connectionUrlFile),
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  const engine = new Engine({ socketPath: config.dockerSocket, timeoutMs: (config.stopGraceS + 20) * 1000 });
  const j = config.jobs;
  const waker = new Waker({
    engine,
    audit,
    platform: config.platform,
    wakeTimeoutMs: config.wakeTimeoutMs,
    pollMs: config.pollMs,
    stopGraceS: config.stopGraceS,
    log,
    ...(j.enabled
      ? {
          jobs: {
            read: (gatewayId: string) => readJobRows({ engine, scratchDir: j.scratchDir, maxBytes: j.maxStateBytes, sandbox: j.reader }, gatewayId),
            policy: { horizonMs: j.horizonS * 1000, leadMs: { paused: j.leadPausedMs, stopped: j.leadStoppedMs }, maxRunMs: j.maxRunS * 1000, maxHoldMs: j.maxHoldS * 1000 },
          },
        }
      : {}),
  });
  // The wakes for the jobs of tenants suspended before this start (the jobs are the record).
  waker.rearm().then(
    (armed) => log({ msg: "scheduled wakes armed", armed, scheduled: waker.scheduled() }),
    (err: unknown) => log({ msg: "rearm failed", error: err instanceof Error ? err.message : String(err) }),
  );
  const server = createWakerServer({ waker, token, maxInFlight: config.maxInFlight, log });
  server.listen(config.listen.port, config.listen.host, () => log({ msg: "listening", host: config.listen.host, port: config.listen.port, platform: config.platform }));
  const drain = () => {
    waker.close();
    server.close();
    server.closeIdleConnections();
    return audit.close();
  };
  return { drain };
}

runService({ name: "octw-waker", log, serve, health: { heartbeat }, stopLog: { announce: "stopping", logStopped: false } });
