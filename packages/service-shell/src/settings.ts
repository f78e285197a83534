import { jsonLog, type Log } from "./log";

export interface ServiceSettings {
  log: Log;
  /** `$<PREFIX>_CONFIG`, default /etc/<component>/config.json. */
  configPath: string;
  /** `$<PREFIX>_CONFIG_POLL_MS`, default 2 s: how often a reloading service looks at its config. */
  configPollMs: number;
  /** `$<PREFIX>_HEARTBEAT`, default /tmp/<component>.heartbeat, touched every 10 s. */
  heartbeat: { path: string; everyMs: number };
}

/**
 * The settings every service takes the same way: one env var prefix per service (OCTW_EDGE,
 * OCTW_ROUTER, …) and defaults named after its component, so the images and the Pulumi
 * components can rely on one convention.
 */
export function serviceSettings(component: string, envPrefix: string, env = process.env): ServiceSettings {
  return {
    log: jsonLog(component),
    configPath: env[`${envPrefix}_CONFIG`] ?? `/etc/${component}/config.json`,
    configPollMs: Number(env[`${envPrefix}_CONFIG_POLL_MS`] ?? 2_000),
    heartbeat: { path: env[`${envPrefix}_HEARTBEAT`] ?? `/tmp/${component}.heartbeat`, everyMs: 10_000 },
  };
}
