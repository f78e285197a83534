import { describe, expect, it } from "vitest";
import { autoWorkers, cgroupCpuQuota } from "../src/cpu-limit";

const files = (m: Record<string, string>) => (p: string) => m[p];

describe("the edge's worker count from the container's CPU limit", () => {
  it("reads cgroup v2 cpu.max: a quota in CPUs, none for max", () => {
    expect(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu.max": "200000 100000\n" }))).toBe(2);
    expect(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu.max": "150000 100000\n" }))).toBe(1.5);
    expect(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu.max": "max 100000\n" }))).toBeUndefined();
  });

  it("reads cgroup v1's CFS quota (-1: none), under either mount name", () => {
    expect(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "300000\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n" }))).toBe(3);
    expect(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "50000\n", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n" }))).toBe(0.5);
    expect(cgroupCpuQuota(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n" }))).toBeUndefined();
    expect(cgroupCpuQuota(files({}))).toBeUndefined();
  });

  it("auto: the quota rounded up, at most the CPUs there are, at least one", () => {
    expect(autoWorkers(2, 8)).toBe(2);
    expect(autoWorkers(1.5, 8)).toBe(2);
    expect(autoWorkers(0.5, 8)).toBe(1);
    expect(autoWorkers(16, 4)).toBe(4);
    expect(autoWorkers(undefined, 6)).toBe(6);
    expect(autoWorkers(1, 2)).toBe(1);
  });
});
