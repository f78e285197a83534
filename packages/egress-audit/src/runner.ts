// Keeps one DenialSource per running egress proxy: discovers proxies through the engine,
// follows each one's log from its checkpoint, flushes closed windows on a timer, and lets a
// source go (after recording everything it holds) when its stream ends.
import { followLogs, listProxyContainers, type FollowHandle } from "./docker-engine";
import type { ShipperConfig } from "./config";
import { CheckpointStore, DenialSource, type AuditRecorder } from "./shipper";

export interface Runner {
  /** Sources by container id (for health and tests). */
  readonly sources: ReadonlyMap<string, DenialSource>;
  /** One discovery pass (also run on the timer). */
  discover(): Promise<void>;
  /** Records closed windows of every source (also run on the timer). */
  flush(nowMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function startRunner(config: ShipperConfig, audit: AuditRecorder, log: (l: Record<string, unknown>) => void, options: { timers?: boolean } = {}): Runner {
  const checkpoints = new CheckpointStore(config.checkpointPath);
  const sources = new Map<string, { source: DenialSource; follow: FollowHandle }>();
  const engine = { socketPath: config.dockerSocket };
  let stopped = false;

  const attach = (id: string, tenant: string) => {
    const source = new DenialSource({ tenant, source: id, windowMs: config.windowMs, graceMs: config.graceMs, maxGroups: config.maxGroups }, audit, checkpoints);
    const since = source.startSec(0);
    const follow = followLogs(engine, id, since, (text) => source.line(text));
    sources.set(id, { source, follow });
    log({ msg: "following", tenant, container: id.slice(0, 12), since });
    follow.done
      .catch((err: unknown) => log({ msg: "log stream failed", container: id.slice(0, 12), error: err instanceof Error ? err.message : String(err) }))
      .then(async () => {
        // Our own shutdown: open windows stay unrecorded and are re-read from the checkpoint.
        if (stopped) return;
        // Stream over (proxy stopped or replaced): everything it holds is final.
        await source.flush(Number.MAX_SAFE_INTEGER);
        sources.delete(id);
        log({ msg: "stream ended", tenant, container: id.slice(0, 12), ...source.stats });
      })
      .catch((err: unknown) => log({ msg: "final flush failed", container: id.slice(0, 12), error: err instanceof Error ? err.message : String(err) }));
  };

  const discover = async () => {
    if (stopped) return;
    const list = await listProxyContainers(engine, config.component, config.labels);
    for (const c of list) if (!sources.has(c.id)) attach(c.id, c.tenant);
  };
  const flush = async (nowMs = Date.now()) => {
    await Promise.all([...sources.values()].map((s) => s.source.flush(nowMs)));
  };

  const timers: NodeJS.Timeout[] = [];
  if (options.timers !== false) {
    const safe = (what: string, f: () => Promise<void>) => () => void f().catch((err: unknown) => log({ msg: `${what} failed`, error: err instanceof Error ? err.message : String(err) }));
    timers.push(setInterval(safe("discovery", discover), config.discoverMs));
    timers.push(setInterval(safe("flush", () => flush()), config.flushMs));
    void safe("discovery", discover)();
  }

  return {
    get sources() {
      return new Map([...sources].map(([k, v]) => [k, v.source]));
    },
    discover,
    flush,
    async stop() {
      stopped = true;
      timers.forEach(clearInterval);
      // Closed windows are recorded; open ones are not: they are re-read from the checkpoint next start.
      await flush();
      for (const s of sources.values()) s.follow.stop();
    },
  };
}
