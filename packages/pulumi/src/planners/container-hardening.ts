/**
 * The hardening every OCTW container gets, as plain data that components spread into
 * `docker.ContainerArgs`. Decisions live here, tested; components only declare.
 * (Pulumi transforms do not run under mocks, so hardening must be in the args themselves.)
 */
import { buildSeccompProfile, seccompSecurityOpt } from "./seccomp-profile.js";

export interface ResourceLimits {
  /** Hard memory limit in MiB (swap is disabled: memorySwap = memory). */
  readonly memoryMb: number;
  /** CPU quota, e.g. 1.5 cores. */
  readonly cpus: number;
  /** Max processes of the container's UID (RLIMIT_NPROC, counted per UID on the host: hence per-tenant UIDs). */
  readonly nproc: number;
  /** Max open files per process. */
  readonly nofile: number;
}

export interface TmpfsMount {
  readonly path: string;
  readonly sizeMb: number;
}

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
    cpus: String(input.limits.cpus),
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
