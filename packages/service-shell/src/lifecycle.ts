import { unwatchFile, watchFile } from "node:fs";
import { errorText, type Log } from "./log";

export interface StopOptions {
  log: Log;
  /** Closes what the service opened, in order; exit 0 when it resolves, 1 when it fails. */
  drain: () => Promise<unknown>;
  /** The log line's msg when a signal arrives. */
  announce?: string;
  /** Log `{"msg":"stopped"}` before exiting 0. */
  logStopped?: boolean;
}

/** SIGTERM/SIGINT drain once (a second signal during the drain is ignored) and end the process. */
export function stopOnSignals({ log, drain, announce = "draining", logStopped = true }: StopOptions): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log({ msg: announce, signal });
    drain()
      .then(() => {
        if (logStopped) log({ msg: "stopped" });
        process.exit(0);
      })
      .catch((err: unknown) => {
        log({ msg: "shutdown failed", error: errorText(err) });
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

export interface ReloadOptions<C> {
  path: string;
  pollMs: number;
  load: (path: string) => C;
  /** Applies a new config; what it returns is logged with the "config reloaded" line. */
  apply: (config: C) => Record<string, unknown> | Promise<Record<string, unknown>>;
  log: Log;
}

/**
 * Re-reads the config when the file changes (polled: it is rewritten from another container,
 * where inotify events do not reach) and on SIGHUP. Reloads run one at a time; an invalid new
 * config is logged and the running one kept. Returns the function that stops the polling.
 */
export function reloadConfigOnChange<C>({ path, pollMs, load, apply, log }: ReloadOptions<C>): () => void {
  let reloading = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      try {
        const r = await apply(load(path));
        log({ msg: "config reloaded", why, ...r });
      } catch (err) {
        log({ msg: "config reload refused, keeping the running config", why, error: errorText(err) });
      }
    });
  };
  watchFile(path, { interval: pollMs }, (cur, prev) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) reload("file changed");
  });
  process.on("SIGHUP", () => reload("SIGHUP"));
  return () => unwatchFile(path);
}
