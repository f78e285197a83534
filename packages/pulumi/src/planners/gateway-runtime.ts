/**
 * How the gateway's node runs: the memory and cold-start settings measured for issue 12
 * (bench/gateway-memory/measure.sh; figures in bench/gateway-memory/README.md). Pure data the
 * TenantGateway component puts into the container's environment and start command. None of these
 * settings turns off an OpenClaw feature, plugin or channel: they change how V8 sizes its young
 * generation, where node keeps its compile cache and whether OpenClaw keeps a private copy of its
 * own Control UI assets — nothing a tenant's policy can enable.
 */
import { OPENCLAW_STATE_DIR } from "./openclaw-config.js";

/**
 * node's compile cache, inside the tenant's own state volume so that it survives a stop (the
 * /tmp tmpfs, where OpenClaw puts it by default, does not; a stopped tenant then recompiles
 * every module on wake). Writable by the tenant, like everything in that volume: the gateway
 * already runs the tenant's code as that UID and the volume already persists its state, so a
 * poisoned cache gives the tenant nothing it did not have, and only inside its own boundary.
 */
export const GATEWAY_COMPILE_CACHE_DIR = `${OPENCLAW_STATE_DIR}/.cache/node-compile-cache`;

/**
 * V8's young generation (semi-space) in MiB. The default (up to 16 MiB per semi-space, per
 * isolate and per node process: the gateway runs three) is sized for throughput; 1 MiB cut
 * the idle cgroup RSS by ≈100 MiB (700 → 602 MiB; ≈70 MiB against 16 MiB in session 21) at
 * ≈1.3 s more GC per start (3.2 vs 1.9 s of pauses, `--trace-gc`): the one CPU-for-memory knob
 * left, kept at 1 because no value brings a start near 3 s while the memory counts for every
 * resident tenant.
 */
export const GATEWAY_SEMI_SPACE_MB = 1;

/**
 * glibc malloc settings for every process of the gateway container. By default glibc raises its
 * mmap and trim thresholds as a process frees large blocks (up to 32 MiB) and keeps up to 8 arenas
 * per core, so memory that node's native side (V8 off-heap, SQLite, zlib, TLS) frees stays mapped.
 * Fixed thresholds at glibc's own starting value (128 KiB) hand large frees back to the kernel,
 * two arenas bound the per-thread pools. Measured: idle cgroup RSS −34 MiB (584 → 550 MiB), no
 * measurable CPU cost at start (bench/gateway-memory/README.md).
 */
export const GATEWAY_GLIBC_TUNABLES = "glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2";

export interface GatewayRuntimeInput {
  /**
   * Apply the leaner settings.
   * @default true
   */
  readonly lean?: boolean;
}

/** Environment entries (`KEY=value`) for the gateway container; sorted, so diffs are stable. */
export function gatewayRuntimeEnv(input: GatewayRuntimeInput = {}): string[] {
  if (input.lean === false) return [];
  const env: Record<string, string> = {
    // Inherited by the gateway's helper processes (spawn broker, read-only SQLite worker) too.
    NODE_OPTIONS: `--max-semi-space-size=${GATEWAY_SEMI_SPACE_MB}`,
    NODE_COMPILE_CACHE: GATEWAY_COMPILE_CACHE_DIR,
    GLIBC_TUNABLES: GATEWAY_GLIBC_TUNABLES,
    // openclaw.mjs re-executes itself when NODE_COMPILE_CACHE is set (to move the cache into a
    // per-version subdirectory), leaving a second node process (≈58 MiB) waiting for the child.
    // This marks the respawn as done; node's compile cache checks each entry against the source
    // it compiled, so one directory across OpenClaw versions stays correct.
    OPENCLAW_PACKAGED_COMPILE_CACHE_RESPAWNED: "1",
    // Restarts stay in-process (OpenClaw's recommendation for supervised gateways): no detached
    // child taking over the PID the engine tracks. Self-update is off anyway (images are pinned).
    OPENCLAW_NO_RESPAWN: "1",
  };
  return Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]!}`);
}

/**
 * Where OpenClaw 2026.9.6 keeps its "retained" copies of the Control UI assets
 * (`resolveStateDir()/cache/control-ui-assets`, src/gateway/control-ui-asset-retention.ts).
 */
export const GATEWAY_CONTROL_UI_RETENTION_PATH = `${OPENCLAW_STATE_DIR}/cache/control-ui-assets`;

/**
 * Shell commands (POSIX sh, run as the tenant's UID in the gateway container just before
 * `exec openclaw gateway run`) that stop OpenClaw's Control UI asset retention; empty when lean
 * is off.
 *
 * At every start OpenClaw copies all 1,554 bundled Control UI assets (52 MB) into the state
 * volume and SHA-256-verifies every file of every retained generation — the "sidecars.control-ui-assets"
 * task of its startup trace, which runs beside the rest of the startup on the gateway's one CPU.
 * The copies serve only one purpose: a browser tab still showing an *older* OpenClaw build can
 * lazy-load that build's chunks after an upgrade. Every current asset is served from the image
 * itself (the retained copy is consulted only when the image lacks the file), precompressed and
 * immutable as before. OpenClaw has no setting for this, so the path is made a (tenant-owned,
 * empty) file: its `mkdir` then fails at once, it logs one "Control UI asset retention failed"
 * warning, and serving is unchanged. An existing retained copy (52 MB of every tenant's volume,
 * carried along by every backup) is removed once. The cost of a stale old-build tab: it reloads.
 */
export function gatewayStartPrelude(input: GatewayRuntimeInput = {}, stateDir: string = OPENCLAW_STATE_DIR): string {
  if (input.lean === false) return "";
  // stateDir is this module's constant (or a test's temporary directory), never tenant input.
  if (!/^\/[\w./-]+$/.test(stateDir)) throw new RangeError("stateDir: must be an absolute path of letters, digits, _ . / -");
  const r = `${stateDir}/cache/control-ui-assets`;
  // Any failure leaves OpenClaw retaining as before; the gateway starts regardless (`;`, not `&&`).
  return `if [ -L ${r} ] || [ ! -f ${r} ]; then rm -rf ${r} && mkdir -p ${stateDir}/cache && chmod 0700 ${stateDir}/cache && : > ${r} && chmod 0400 ${r}; fi;`;
}
