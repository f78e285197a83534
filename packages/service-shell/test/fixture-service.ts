// A service built on the shell alone, for the process tests: FIXTURE_* env vars pick its behaviour.
import { jsonLog, readJsonFile, readSecretFile, runService } from "../src/index";

const log = jsonLog("fixture");
const env = process.env;
const load = (path: string) => {
  const c = readJsonFile("fixture config", path) as { tenants?: unknown };
  if (!Array.isArray(c.tenants)) throw new Error("tenants: must be an array");
  return c as { tenants: unknown[] };
};

runService({
  name: "octw-fixture",
  log,
  serve: async () => {
    const config = load(env.FIXTURE_CONFIG!);
    readSecretFile("secretFile", env.FIXTURE_SECRET!);
    log({ msg: "listening", tenants: config.tenants.length });
    // FIXTURE_SIGNAL_AT_LISTENING: a SIGTERM at the very moment the service says it listens (sent to itself: delivered before the next line runs)
    if (env.FIXTURE_SIGNAL_AT_LISTENING) process.kill(process.pid, "SIGTERM");
    // FIXTURE_AFTER_LISTENING_MS: start-up work after the service already listens (a signal can arrive meanwhile)
    if (env.FIXTURE_AFTER_LISTENING_MS) await new Promise((r) => setTimeout(r, Number(env.FIXTURE_AFTER_LISTENING_MS)));
    return {
      reconfigure: (next: { tenants: unknown[] }) => ({ tenants: next.tenants.length }),
      drain: () => (env.FIXTURE_DRAIN_FAILS ? Promise.reject(new Error("drain broke")) : Promise.resolve()),
    };
  },
  reload: { path: env.FIXTURE_CONFIG!, pollMs: 100, load },
  health: { heartbeat: { path: env.FIXTURE_HEARTBEAT!, everyMs: 200 } },
  stopLog: env.FIXTURE_QUIET_STOP ? { announce: "stopping", logStopped: false } : undefined,
});
