import { describe, expect, it } from "vitest";
import { CLONE_NAMESPACE_FLAGS, DENIED_SYSCALLS, buildSeccompProfile, seccompSecurityOpt, type SeccompProfile } from "../src/index.js";

// The profile's shape as the kernel/runc read it. planners.test.ts checks the headline denials;
// these pin every rule's meaning (mutation testing showed which parts no test looked at).

const SYSCALL_NAME = /^[a-z_][a-z0-9_]*$/;

function unconditional(p: SeccompProfile): string[] {
  return p.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW" && !r.args).flatMap((r) => r.names);
}

/** Every name the profile lets through in some form (with or without argument filters). */
function allowedInSomeForm(p: SeccompProfile): Set<string> {
  return new Set(p.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW").flatMap((r) => r.names));
}

describe("seccomp profile: well-formed", () => {
  const profile = buildSeccompProfile();

  it("names only well-formed syscalls (runc would skip a garbled name, silently changing the profile)", () => {
    for (const rule of profile.syscalls) {
      expect(rule.names.length).toBeGreaterThan(0);
      for (const n of rule.names) expect(n, JSON.stringify(n)).toMatch(SYSCALL_NAME);
    }
    for (const n of Object.keys(DENIED_SYSCALLS)) expect(n).toMatch(SYSCALL_NAME);
  });

  it("lists the unconditional allowlist once, sorted (stable diffs)", () => {
    const list = unconditional(profile);
    expect(new Set(list).size).toBe(list.length);
    expect(list).toEqual([...list].sort());
    expect(profile.syscalls[0]!.action).toBe("SCMP_ACT_ALLOW");
    expect(profile.syscalls[0]!.args).toBeUndefined();
  });

  it("allows no denied syscall in any form, except personality's own filtered values", () => {
    const some = allowedInSomeForm(profile);
    for (const n of Object.keys(DENIED_SYSCALLS)) {
      if (n === "personality") continue;
      expect(some.has(n), n).toBe(false);
    }
    expect(unconditional(profile)).not.toContain("personality");
  });

  it("documents a reason for each syscall a container could otherwise use for an escape", () => {
    for (const n of ["ptrace", "bpf", "userfaultfd", "perf_event_open", "keyctl", "unshare", "setns", "mount", "io_uring_setup", "clone3", "open_by_handle_at", "kexec_load", "init_module", "personality"]) {
      expect(DENIED_SYSCALLS[n], n).toMatch(/\w{4}/);
    }
  });

  it("keeps the ordinary ground of every group programs use", () => {
    const list = new Set(unconditional(profile));
    const groups: Record<string, string[]> = {
      files: ["openat", "read", "write", "close", "fstat", "newfstatat", "getdents64", "lseek", "unlinkat", "renameat2", "fcntl"],
      memory: ["brk", "mmap", "munmap", "mprotect", "madvise", "mremap"],
      processes: ["execve", "exit_group", "wait4", "getpid", "prctl", "rseq", "set_robust_list", "sched_getaffinity", "kill", "tgkill"],
      identity: ["getuid", "geteuid", "getgid", "getegid", "setgroups", "setresuid"],
      signals: ["rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack"],
      time: ["clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "timerfd_create"],
      events: ["epoll_create1", "epoll_ctl", "epoll_pwait", "eventfd2", "futex", "pipe2", "poll"],
      network: ["accept4", "bind", "connect", "listen", "recvfrom", "sendto", "setsockopt", "getsockopt", "socketpair", "shutdown"],
      ipc: ["shmget", "shmat", "semop", "msgget"],
      system: ["getrandom", "uname", "ioctl", "sysinfo"],
    };
    for (const [group, names] of Object.entries(groups)) {
      for (const n of names) expect(list.has(n), `${group}: ${n}`).toBe(true);
    }
  });

  it("denies with EPERM by default and covers the 32-bit ABIs of both architectures", () => {
    expect(profile.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.archMap).toEqual([
      { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
      { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    ]);
  });
});

describe("seccomp profile: argument-filtered rules", () => {
  const profile = buildSeccompProfile();

  it("clone is allowed only through the namespace-flag mask, never unconditionally", () => {
    expect(unconditional(profile)).not.toContain("clone");
    const rules = profile.syscalls.filter((r) => r.names.includes("clone"));
    expect(rules).toEqual([
      { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
    ]);
    // CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
    expect(CLONE_NAMESPACE_FLAGS).toBe(0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000);
  });

  it("socket: any address family but AF_VSOCK (40)", () => {
    expect(profile.syscalls.filter((r) => r.names.includes("socket"))).toEqual([
      { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 40, op: "SCMP_CMP_NE" }] },
    ]);
  });

  it("personality: only the default personalities and the query value", () => {
    const rules = profile.syscalls.filter((r) => r.names.includes("personality"));
    expect(rules.every((r) => r.action === "SCMP_ACT_ALLOW" && r.names.length === 1 && r.args?.length === 1 && r.args[0]!.index === 0 && r.args[0]!.op === "SCMP_CMP_EQ")).toBe(true);
    expect(rules.map((r) => r.args![0]!.value)).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff]);
  });

  it("clone3 answers ENOSYS (38), so libc falls back to the checkable clone", () => {
    expect(profile.syscalls.filter((r) => r.names.includes("clone3"))).toEqual([{ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }]);
  });
});

describe("seccomp profile: extra denials", () => {
  it("removes extra names from the allowlist", () => {
    const p = buildSeccompProfile({ extraDenied: ["chmod", "fchmodat"] });
    expect(allowedInSomeForm(p).has("chmod")).toBe(false);
    expect(allowedInSomeForm(p).has("fchmodat")).toBe(false);
    expect(unconditional(p)).toContain("fchmod"); // control: only what was named
  });

  it("an extra-denied clone, socket or personality gets no filtered rule either", () => {
    const p = buildSeccompProfile({ extraDenied: ["clone", "socket", "personality"] });
    const some = allowedInSomeForm(p);
    for (const n of ["clone", "socket", "personality"]) expect(some.has(n), n).toBe(false);
    // Control: the default profile has all three (filtered).
    const d = allowedInSomeForm(buildSeccompProfile());
    for (const n of ["clone", "socket", "personality"]) expect(d.has(n), n).toBe(true);
  });
});

describe("seccomp security option", () => {
  it("is `seccomp=` and the profile as JSON that reads back equal", () => {
    const profile = buildSeccompProfile();
    const opt = seccompSecurityOpt(profile);
    expect(opt.startsWith("seccomp={")).toBe(true);
    expect(JSON.parse(opt.slice("seccomp=".length))).toEqual(profile);
  });
});
