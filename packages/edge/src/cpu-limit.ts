// How many CPUs the edge may use: the container's CPU limit (cgroup v2 cpu.max, or v1's CFS
// quota), bounded by the CPUs the process may run on. Used for the default worker count.
import { readFileSync } from "node:fs";
import os from "node:os";

type Read = (path: string) => string | undefined;

const readOrUndefined: Read = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/** The CFS quota in CPUs (may be fractional), undefined when there is none or it cannot be read. */
export function cgroupCpuQuota(read: Read = readOrUndefined): number | undefined {
  // v2: "<quota> <period>" or "max <period>".
  const v2 = read("/sys/fs/cgroup/cpu.max");
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    if (quota === "max" || quota === undefined) return undefined;
    const q = Number(quota);
    const p = Number(period ?? 100_000);
    return q > 0 && p > 0 ? q / p : undefined;
  }
  for (const dir of ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    if (quota === undefined) continue;
    const q = Number(quota.trim());
    const p = Number(read(`${dir}/cpu.cfs_period_us`)?.trim() ?? 100_000);
    return q > 0 && p > 0 ? q / p : undefined; // -1: no quota
  }
  return undefined;
}

/** Workers for "auto": the quota rounded up (a 1.5-CPU limit gets 2), never more than the CPUs there are, at least 1. */
export function autoWorkers(quota = cgroupCpuQuota(), cpus = os.availableParallelism()): number {
  const n = quota === undefined ? cpus : Math.min(cpus, Math.ceil(quota - 1e-9));
  return Math.max(1, n);
}

export function workerCount(setting: "auto" | number): number {
  return setting === "auto" ? autoWorkers() : setting;
}
