#!/usr/bin/env -S node --import tsx
// The waker container's entry point: octw-waker [serve|healthcheck].
//   serve        listen for wake/suspend; touches a heartbeat file every 10 s
//   healthcheck  exit 0 when the heartbeat is younger than 30 s (the container's healthcheck)
// Config: JSON at $OCTW_WAKER_CONFIG (default /etc/octw-waker/config.json).
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { AuditClient } from "@octw/audit";
import { parseWakerConfig } from "./config";
import { Engine } from "./engine";
import { createWakerServer } from "./server";
import { Waker } from "./waker";

const CONFIG_PATH = process.env.OCTW_WAKER_CONFIG ?? "/etc/octw-waker/config.json";
const HEARTBEAT_PATH = process.env.OCTW_WAKER_HEARTBEAT ?? "/tmp/octw-waker.heartbeat";
const HEARTBEAT_MS = 10_000;

function log(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component: "octw-waker", ...line })}\n`);
}

function readFileNamed(field: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${field}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

function serve(): void {
  let json: unknown;
  try {
    json = JSON.parse(readFileNamed("config", CONFIG_PATH));
  } catch (e) {
    throw e instanceof SyntaxError ? new Error(`config ${CONFIG_PATH}: not valid JSON`) : e;
  }
  const config = parseWakerConfig(json);
  const token = readFileNamed("tokenFile", config.tokenFile).trim();
  if (token.length < 32) throw new Error(`tokenFile: the token must be at least 32 characters`);
  const audit = new AuditClient({
    connection: readFileNamed("audit.connectionUrlFile", config.audit.connectionUrlFile).trim(),
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  const waker = new Waker({
    engine: new Engine({ socketPath: config.dockerSocket, timeoutMs: (config.stopGraceS + 20) * 1000 }),
    audit,
    platform: config.platform,
    wakeTimeoutMs: config.wakeTimeoutMs,
    pollMs: config.pollMs,
    stopGraceS: config.stopGraceS,
    log,
  });
  const server = createWakerServer({ waker, token, maxInFlight: config.maxInFlight, log });
  server.listen(config.listen.port, config.listen.host, () => log({ msg: "listening", host: config.listen.host, port: config.listen.port, platform: config.platform }));
  const beat = () => writeFileSync(HEARTBEAT_PATH, `${Date.now()}\n`, { mode: 0o600 });
  beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(heartbeat);
    log({ msg: "stopping", signal });
    server.close();
    server.closeIdleConnections();
    audit
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log({ msg: "shutdown failed", error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

function healthcheck(): never {
  try {
    const age = Date.now() - statSync(HEARTBEAT_PATH).mtimeMs;
    process.exit(age < 3 * HEARTBEAT_MS ? 0 : 1);
  } catch {
    process.exit(1);
  }
}

const command = process.argv[2] ?? "serve";
if (command === "healthcheck") healthcheck();
if (command !== "serve") {
  process.stderr.write(`octw-waker: unknown command ${JSON.stringify(command).slice(0, 40)} (allowed: serve, healthcheck)\n`);
  process.exit(2);
}
try {
  serve();
} catch (err) {
  log({ msg: "failed to start", error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
