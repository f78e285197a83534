#!/usr/bin/env -S node --import tsx
// The egress-audit container's entry point: octw-egress-audit [serve|healthcheck].
//   serve        follow the proxies and ship their refusals; touches a heartbeat file every 10 s
//   healthcheck  exit 0 when the heartbeat is younger than 30 s (the container's healthcheck, so
//                a deploy waits until the shipper really runs)
// Config: JSON at $OCTW_EGRESS_AUDIT_CONFIG (default /etc/octw-egress-audit/config.json).
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { AuditClient } from "@octw/audit";
import { parseShipperConfig } from "./config";
import { startRunner } from "./runner";

const CONFIG_PATH = process.env.OCTW_EGRESS_AUDIT_CONFIG ?? "/etc/octw-egress-audit/config.json";
const HEARTBEAT_PATH = process.env.OCTW_EGRESS_AUDIT_HEARTBEAT ?? "/tmp/octw-egress-audit.heartbeat";
const HEARTBEAT_MS = 10_000;

function log(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component: "octw-egress-audit", ...line })}\n`);
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
  const config = parseShipperConfig(json);
  const audit = new AuditClient({
    connection: readFileNamed("audit.connectionUrlFile", config.audit.connectionUrlFile).trim(),
    spoolPath: config.audit.spoolPath,
    onError: (err) => log({ msg: "audit client", error: err.message }),
  });
  const runner = startRunner(config, audit, log);
  log({ msg: "started", windowMs: config.windowMs, follows: `octw.component=${config.component}` });
  const beat = () => writeFileSync(HEARTBEAT_PATH, `${Date.now()}\n`, { mode: 0o600 });
  beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(heartbeat);
    log({ msg: "stopping", signal });
    runner
      .stop()
      .then(() => audit.close())
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
  process.stderr.write(`octw-egress-audit: unknown command ${JSON.stringify(command)} (allowed: serve, healthcheck)\n`);
  process.exit(2);
}
try {
  serve();
} catch (err) {
  log({ msg: "failed to start", error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
