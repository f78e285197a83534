/**
 * The hardening every OCTW container gets, as plain data that components spread into
 * `docker.ContainerArgs`. Decisions live here, tested; components only declare.
 * (Pulumi transforms do not run under mocks, so hardening must be in the args themselves.)
 */
import { z } from "zod";
import { buildSeccompProfile, seccompSecurityOpt } from "./seccomp-profile.js";

/** The lowest limits a kind of container can run with; `why` says where a floor comes from. */
export interface LimitFloors {
  readonly memoryMb: number;
  readonly memoryWhy?: string;
  readonly nproc: number;
  readonly nofile: number;
}

/**
 * The one schema of resource limits (every field optional, merged over a default), with the
 * floors of the kind of container it limits. Used by the platform's tenant limits, TenantGateway
 * and SandboxPolicy's proxy limits.
 */
export function limitsSchema(floors: LimitFloors) {
  return z.strictObject({
    memoryMb: z
      .number()
      .int()
      .min(floors.memoryMb, `must be at least ${floors.memoryMb} (MiB)${floors.memoryWhy ? `: ${floors.memoryWhy}` : ""}`)
      .max(1_048_576)
      .optional()
      .meta({ description: "Hard memory limit in MiB (swap is disabled: memorySwap = memory)." }),
    cpus: z.number().positive("must be > 0").max(512).optional().meta({ description: "CPU quota, e.g. 1.5 cores." }),
    nproc: z
      .number()
      .int()
      .min(floors.nproc, `must be at least ${floors.nproc}`)
      .max(1_000_000)
      .optional()
      .meta({ description: "Max processes of the container's UID (RLIMIT_NPROC, counted per UID on the host: hence per-tenant UIDs)." }),
    nofile: z.number().int().min(floors.nofile, `must be at least ${floors.nofile}`).max(1_048_576).optional().meta({ description: "Max open files per process." }),
  }).meta({ description: "Resource limits: a field left out keeps its default." });
}

/** Resource limits with every field set: a limits schema's output merged over a default. */
export type ResourceLimits = Readonly<Required<z.output<ReturnType<typeof limitsSchema>>>>;

/** OpenClaw idles at ≈650 MiB; 768 MiB is the measured floor, so the default leaves headroom. */
export const DEFAULT_GATEWAY_LIMITS: ResourceLimits = { memoryMb: 1536, cpus: 1, nproc: 512, nofile: 8192 };
export const MIN_GATEWAY_MEMORY_MB = 768;
/** A tenant gateway's limits (platform `limits`, TenantGateway `limits`). */
export const gatewayLimitsSchema = limitsSchema({ memoryMb: MIN_GATEWAY_MEMORY_MB, memoryWhy: "OpenClaw is OOM-killed below that", nproc: 64, nofile: 1024 });

/** A writable tmpfs mount: an absolute path and its size. */
export const tmpfsMountSchema = z.strictObject({ path: z.string().startsWith("/"), sizeMb: z.number().int().min(1).max(65_536) }).meta({ id: "TmpfsMount" });
export type TmpfsMount = Readonly<z.output<typeof tmpfsMountSchema>>;

export interface HardeningInput {
  readonly uid: number;
  readonly gid: number;
  readonly limits: ResourceLimits;
  /** Writable tmpfs mounts; every one is noexec,nosuid,nodev. */
  readonly tmpfs: readonly TmpfsMount[];
  /** Capabilities to add back (only one-shot init containers do). */
  readonly addCapabilities?: readonly string[];
  /** OCI runtime, e.g. `runsc` (gVisor) for tenants that need a stronger boundary. */
  readonly runtime?: string;
  /** Log rotation: size of one file in MiB and how many files to keep. */
  readonly log?: { readonly maxSizeMb: number; readonly maxFiles: number };
}

/** The subset of docker.ContainerArgs that hardening owns, with plain values. */
export interface HardenedContainerArgs {
  user: string;
  readOnly: true;
  privileged: false;
  capabilities: { drops: string[]; adds?: string[] };
  securityOpts: string[];
  tmpfs: Record<string, string>;
  memory: number;
  memorySwap: number;
  cpus: string;
  ulimits: { name: string; soft: number; hard: number }[];
  ipcMode: "private";
  shmSize: number;
  logDriver: "json-file";
  logOpts: Record<string, string>;
  runtime?: string;
}

const SECCOMP = seccompSecurityOpt(buildSeccompProfile());

/**
 * `cpus` exactly as pulumi-docker reads it back, so a second `up` sees no change: its Read writes
 * nanoInt64ToDecimalString(NanoCPUs) (kreuzwerker v4.5.0 internal/provider/helpers.go) — "1.0"
 * for 1, "0.5", "0.25", "10." for 10 — and `cpus` forces replacement, so any other spelling
 * ("1") would replace the container on every later `up`.
 */
export function cpusAsProviderReadsThem(cpus: number): string {
  const nano = Math.round(cpus * 1e9);
  if (!Number.isSafeInteger(nano) || nano <= 0) throw new RangeError(`cpus (${cpus}) must be a positive number of CPUs`);
  const whole = Math.trunc(nano / 1e9);
  const frac = String(nano % 1e9).padStart(9, "0");
  const s = `${whole}.${frac}`;
  // upstream: `if strings.Count(str, "0") == 9 { return rat.FloatString(1) }`, then trailing zeros trimmed
  if ((s.match(/0/g) ?? []).length === 9) return `${whole}.${frac.slice(0, 1)}`;
  return s.replace(/0+$/, "");
}

/**
 * Containers whose changes pulumi-docker would record without applying them: `tmpfs`,
 * `healthcheck` and `init` are not ForceNew, and the provider's Update only sends restart policy
 * and memory/CPU-share changes to the engine (kreuzwerker v4.5.0
 * resource_docker_container_funcs.go resourceDockerContainerUpdate). A policy that changes a
 * tenant's writable paths would then show as an update and never reach the container; replacing
 * is the only way such a change takes effect.
 */
export const REPLACE_ON_CHANGES = ["tmpfs", "healthcheck", "init", "cpuPeriod", "cpuQuota"];

/**
 * Fields of a tenant's suspendable containers (gateway, egress proxy) a later `up` must not act
 * on: the provider reads a stopped container back with `must_run: false` and plans an update that
 * starts it (kreuzwerker v4.5.0 resource_docker_container_funcs.go, Read and Update), so every
 * `pulumi up` would wake every suspended tenant. Crashes are the restart policy's business
 * (`unless-stopped`); a stop is a suspension, and the waker owns it.
 */
export const SUSPENDABLE_IGNORE_CHANGES = ["mustRun"];

export function tmpfsOptions(mount: TmpfsMount, uid: number, gid: number): string {
  // mode 1777 only for /tmp (a shared scratch convention); other paths belong to the tenant alone.
  const mode = mount.path === "/tmp" ? "1777" : "0700";
  return `rw,noexec,nosuid,nodev,size=${mount.sizeMb}m,mode=${mode},uid=${uid},gid=${gid}`;
}

export function hardenedContainerArgs(input: HardeningInput): HardenedContainerArgs {
  if (input.uid <= 0 || input.gid <= 0) throw new RangeError("containers never run as root (uid/gid 0)");
  const log = input.log ?? { maxSizeMb: 10, maxFiles: 3 };
  const args: HardenedContainerArgs = {
    user: `${input.uid}:${input.gid}`,
    readOnly: true,
    privileged: false,
    capabilities: { drops: ["ALL"], ...(input.addCapabilities?.length ? { adds: [...input.addCapabilities] } : {}) },
    securityOpts: ["no-new-privileges:true", SECCOMP],
    tmpfs: Object.fromEntries(input.tmpfs.map((m) => [m.path, tmpfsOptions(m, input.uid, input.gid)])),
    memory: input.limits.memoryMb,
    memorySwap: input.limits.memoryMb,
    cpus: cpusAsProviderReadsThem(input.limits.cpus),
    ulimits: [
      { name: "nproc", soft: input.limits.nproc, hard: input.limits.nproc },
      { name: "nofile", soft: input.limits.nofile, hard: input.limits.nofile },
      { name: "core", soft: 0, hard: 0 },
    ],
    ipcMode: "private",
    shmSize: 16,
    logDriver: "json-file",
    logOpts: { "max-size": `${log.maxSizeMb}m`, "max-file": String(log.maxFiles) },
  };
  if (input.runtime) args.runtime = input.runtime;
  return args;
}

/** Docker labels as the provider wants them: a list of pairs, sorted for stable diffs. */
export function labelList(labels: Record<string, string>): { label: string; value: string }[] {
  return Object.keys(labels)
    .sort()
    .map((label) => ({ label, value: labels[label]! }));
}

/** Where a volume-init container mounts the volume it prepares. */
export const INIT_MOUNT = "/state";

export interface VolumeInitInput<Content> {
  /** Owner of the volume root, of every directory below it that a file needs, and of the files. */
  readonly uid: number;
  readonly gid: number;
  readonly volumeName: Content;
  /** Files to deliver, by path relative to the volume root; each ends up 0400 and owned by uid:gid. */
  readonly files: readonly { readonly path: string; readonly content: Content }[];
}

/**
 * Args of the one-shot container that prepares a volume for a read-only container: it delivers
 * files (pulumi-docker uploads by PUTting an archive at "/", which a read-only root refuses, so
 * the long-lived container cannot receive them itself) and makes the volume root and the
 * directories the files sit in 0700 and owned by `uid`. It runs as root with only CAP_CHOWN and
 * CAP_FOWNER, no network, and exits at once. Directories are chowned and chmodded innermost
 * first: once an outer one is 0700 and not root's, root (without DAC_OVERRIDE) cannot enter it.
 */
export function volumeInitArgs<Content>(input: VolumeInitInput<Content>) {
  const dirs = new Set<string>();
  for (const f of input.files) {
    if (f.path.startsWith("/") || f.path.split("/").includes("..")) throw new RangeError('files[].path: must be relative to the volume, without ".."');
    const parts = f.path.split("/").slice(0, -1);
    for (let i = parts.length; i > 0; i--) dirs.add(`${INIT_MOUNT}/${parts.slice(0, i).join("/")}`);
  }
  const ordered = [...dirs].sort((a, b) => b.split("/").length - a.split("/").length || a.localeCompare(b));
  const targets = [...ordered, INIT_MOUNT].join(" ");
  // A re-run (the init container replaced because a delivered file changed) finds the volume
  // already 0700 and owned by the service: root without DAC_OVERRIDE cannot even look inside.
  // FOWNER lets it open the directories for search first, outermost first; the chown/chmod then
  // closes them again, innermost first.
  const opening = [INIT_MOUNT, ...[...ordered].reverse()].join(" ");
  return {
    ...hardenedContainerArgs({ uid: input.uid, gid: input.gid, limits: { memoryMb: 64, cpus: 0.25, nproc: 32, nofile: 256 }, tmpfs: [], addCapabilities: ["CHOWN", "FOWNER"] }),
    readOnly: false,
    user: "0:0",
    networkMode: "none",
    entrypoints: ["/bin/sh", "-c"],
    command: [`chmod 0711 ${opening} && chown ${input.uid}:${input.gid} ${targets} && chmod 0700 ${targets}`],
    // No `volumeOptions` (noCopy) anywhere: pulumi-docker refuses any volume_options block on an
    // engine below API 1.45 (Docker < 26; Debian 12's docker.io is 1.41). Copy-up is harmless here:
    // every volume is first mounted by its init container at INIT_MOUNT, which no image has.
    mounts: [{ type: "volume", source: input.volumeName, target: INIT_MOUNT }],
    uploads: input.files.map((f) => ({ file: `${INIT_MOUNT}/${f.path}`, content: f.content, permissions: "0400", owner: String(input.uid), group: String(input.gid) })),
    // Wait for it to finish; it stays (exited) as the record of what was delivered.
    attach: true,
    mustRun: false,
    start: true,
    restart: "no",
  };
}

export interface NodeServiceInput<Content> {
  /** The image's own UID:GID (the service runs as it). */
  readonly uid: number;
  readonly limits: ResourceLimits;
  /** Size of the /tmp tmpfs (tsx's transform cache lives there). */
  readonly tmpSizeMb: number;
  /** The service's state volume and where it is mounted. */
  readonly volumeName: Content;
  readonly stateDir: string;
  /** Further mounts (e.g. a bind of the engine socket). */
  readonly extraMounts?: readonly { type: "bind"; source: string; target: string }[];
  /** Environment variable naming the config file, and the file (inside the state volume). */
  readonly configEnv: string;
  readonly configPath: string;
  /** The entry point's path in the image, when it has a `healthcheck` subcommand; the container then waits healthy. */
  readonly healthcheckEntry?: string;
  /** Further environment (never secrets). */
  readonly extraEnvs?: readonly string[];
}

/**
 * Args of a shared OCTW node service (edge, inference router, egress-audit shipper): hardened,
 * read-only, its state volume, config named by one env var (never secrets), a stop timeout that
 * covers the drain (10 s) plus the audit flush, and — when the entry point has one — the
 * `healthcheck` subcommand, waited on at deploy.
 */
export function nodeServiceArgs<Content>(input: NodeServiceInput<Content>) {
  const health = input.healthcheckEntry
    ? {
        healthcheck: {
          tests: ["CMD", "/usr/local/bin/node", "--import", "tsx", input.healthcheckEntry, "healthcheck"],
          // Go duration strings as the provider reads them back (time.Duration.String())
          interval: "10s",
          timeout: "5s",
          startPeriod: "20s",
          retries: 3,
        },
        wait: true,
        waitTimeout: 120,
      }
    : {};
  return {
    ...hardenedContainerArgs({ uid: input.uid, gid: input.uid, limits: input.limits, tmpfs: [{ path: "/tmp", sizeMb: input.tmpSizeMb }] }),
    mounts: [{ type: "volume", source: input.volumeName, target: input.stateDir }, ...(input.extraMounts ?? [])],
    envs: [`${input.configEnv}=${input.configPath}`, "HOME=/tmp", "TMPDIR=/tmp", "NODE_ENV=production", ...(input.extraEnvs ?? [])],
    ...health,
    restart: "unless-stopped",
    stopTimeout: 25,
    destroyGraceSeconds: 25,
  };
}
