import { httpHealthcheck, heartbeatHealthcheck, startHeartbeat } from "./health";
import { reloadConfigOnChange, stopOnSignals } from "./lifecycle";
import { errorText, type Log } from "./log";

/** What `serve` hands back once the service runs. */
export interface Running<C> {
  /** Closes what serve opened, in order (called once, on SIGTERM/SIGINT). */
  drain: () => Promise<unknown>;
  /** Applies a re-read config (with `reload`); what it returns is logged. */
  reconfigure?: (config: C) => Record<string, unknown> | Promise<Record<string, unknown>>;
}

export type Health =
  /** Ask this process's own port on loopback (the config names it, so it is read per check). */
  | { http: () => { port: number; path: string; tls: boolean } }
  /** A service without a port: serve touches the file, the check looks at its age. */
  | { heartbeat: { path: string; everyMs: number } };

export interface ServiceSpec<C> {
  /** The program name in error messages, e.g. octw-edge. */
  name: string;
  log: Log;
  serve: () => Running<C> | Promise<Running<C>>;
  health: Health;
  /** Re-read the config file on change and on SIGHUP and hand it to `reconfigure`. */
  reload?: { path: string; pollMs: number; load: (path: string) => C };
  /** The drain's log lines: the msg when a signal arrives, and whether "stopped" follows. */
  stopLog?: { announce: string; logStopped: boolean };
}

/**
 * `<name> [serve|healthcheck]` from process.argv: serve is the default; a failed start is
 * logged and exits 1; a drain exits 0 (1 when it fails); an unknown command exits 2 (shown cut
 * short: it is not ours to echo).
 */
export function runService<C>(spec: ServiceSpec<C>, argv = process.argv): void {
  const command = argv[2] ?? "serve";
  if (command === "serve") {
    serve(spec).catch((err: unknown) => {
      spec.log({ msg: "failed to start", error: errorText(err) });
      process.exit(1);
    });
  } else if (command === "healthcheck") {
    healthcheck(spec.health).catch((err: unknown) => {
      process.stderr.write(`${spec.name} healthcheck: ${errorText(err)}\n`);
      process.exit(1);
    });
  } else {
    process.stderr.write(`${spec.name}: unknown command ${JSON.stringify(command).slice(0, 40)} (allowed: serve, healthcheck)\n`);
    process.exit(2);
  }
}

async function serve<C>({ serve, health, reload, log, stopLog }: ServiceSpec<C>): Promise<void> {
  let stopHeartbeat = () => {};
  let unwatch = () => {};
  // Signals are taken before the service starts: it says "listening" from inside serve(), and a
  // SIGTERM sent the moment that line appears (under load the process can lose the CPU right
  // after writing it) must find this handler, not the default action (death, undrained). A drain
  // asked for during the start waits for it; this function's own continuation below was queued
  // first, so the heartbeat and the watcher exist when the drain stops them.
  const start: { running?: ReturnType<typeof serve> } = {};
  stopOnSignals({
    log,
    ...stopLog,
    drain: async () => {
      const running = await start.running!;
      stopHeartbeat();
      unwatch();
      return running.drain();
    },
  });
  start.running = serve();
  const running = await start.running;
  stopHeartbeat = "heartbeat" in health ? startHeartbeat(health.heartbeat.path, health.heartbeat.everyMs) : () => {};
  const { reconfigure } = running;
  unwatch = reload && reconfigure ? reloadConfigOnChange({ ...reload, apply: reconfigure, log }) : () => {};
}

async function healthcheck(health: Health): Promise<void> {
  if ("heartbeat" in health) heartbeatHealthcheck(health.heartbeat.path, health.heartbeat.everyMs);
  else await httpHealthcheck(health.http());
}
