/**
 * The seccomp profile every OCTW container runs with, as a pure function of its options.
 *
 * Shape: default-deny (EPERM), an allowlist of the syscalls ordinary unprivileged Linux
 * programs use (the same ground Docker's default profile covers), MINUS what a compromised
 * agent would use to attack the kernel or its neighbours. Because every OCTW container drops
 * all capabilities, none of the capability-gated syscalls Docker's default adds back
 * (mount, unshare, setns, bpf, ptrace, …) is allowed here at all: the profile does not depend
 * on the capability set being right.
 *
 * Docker takes the profile inline: `securityOpts: ["seccomp=<json>"]`.
 */

/** Syscalls OCTW denies although a default container could use them, and why. */
export const DENIED_SYSCALLS: Readonly<Record<string, string>> = {
  ptrace: "debugging another process is reading and writing its memory",
  process_vm_readv: "cross-process memory read",
  process_vm_writev: "cross-process memory write",
  bpf: "eBPF programs are a kernel attack surface",
  userfaultfd: "a classic primitive for kernel race exploits",
  perf_event_open: "kernel attack surface and side channels",
  keyctl: "kernel keyrings are not namespaced per container",
  add_key: "kernel keyrings are not namespaced per container",
  request_key: "kernel keyrings are not namespaced per container",
  unshare: "new namespaces (user, net, mount) open kernel surface that caps otherwise close",
  setns: "joining namespaces",
  mount: "filesystem mounts",
  umount: "filesystem mounts",
  umount2: "filesystem mounts",
  mount_setattr: "filesystem mounts",
  move_mount: "filesystem mounts",
  open_tree: "filesystem mounts",
  fsopen: "filesystem mounts",
  fsconfig: "filesystem mounts",
  fsmount: "filesystem mounts",
  fspick: "filesystem mounts",
  pivot_root: "filesystem mounts",
  chroot: "filesystem root changes",
  io_uring_setup: "io_uring bypasses seccomp for the operations it queues and has a long CVE record",
  io_uring_enter: "io_uring",
  io_uring_register: "io_uring",
  clone3: "its flags live in memory, so seccomp cannot check them for namespace flags; libc falls back to clone",
  kcmp: "process introspection",
  pidfd_getfd: "stealing another process's file descriptors",
  process_madvise: "acting on another process's memory",
  name_to_handle_at: "file handles bypass path-based checks",
  open_by_handle_at: "file handles bypass path-based checks (the 'shocker' escape)",
  lookup_dcookie: "kernel introspection",
  quotactl: "filesystem administration",
  quotactl_fd: "filesystem administration",
  fanotify_init: "filesystem-wide monitoring",
  syslog: "kernel log",
  acct: "process accounting",
  reboot: "host control",
  kexec_load: "host control",
  kexec_file_load: "host control",
  init_module: "kernel modules",
  finit_module: "kernel modules",
  delete_module: "kernel modules",
  iopl: "raw I/O ports",
  ioperm: "raw I/O ports",
  settimeofday: "host clock",
  clock_settime: "host clock",
  clock_settime64: "host clock",
  clock_adjtime: "host clock",
  clock_adjtime64: "host clock",
  adjtimex: "host clock",
  stime: "host clock",
  swapon: "host memory",
  swapoff: "host memory",
  sethostname: "UTS namespace",
  setdomainname: "UTS namespace",
  vhangup: "terminal control",
  nfsservctl: "obsolete kernel service",
  uselib: "obsolete loader entry point",
  personality: "only the default personality is allowed (see the filtered rule)",
  vm86: "legacy mode",
  vm86old: "legacy mode",
  modify_ldt: "segment tricks used by kernel exploits",
  memfd_secret: "secret memory hidden from the kernel's own inspection",
};

/** The ordinary syscall set, grouped by what programs use it for. */
const ALLOWED_GROUPS: Readonly<Record<string, readonly string[]>> = {
  files: [
    "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range", "creat", "dup", "dup2", "dup3",
    "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64",
    "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "fanotify_mark", "lchown", "lchown32", "lgetxattr", "link", "linkat",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "mkdir", "mkdirat", "mknod", "mknodat",
    "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "removexattr", "rename", "renameat", "renameat2", "rmdir", "sendfile", "sendfile64", "setxattr",
    "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee",
    "truncate", "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vmsplice", "write", "writev",
  ],
  memory: [
    "brk", "madvise", "membarrier", "memfd_create", "mincore", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap",
    "msync", "munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
  ],
  processes: [
    "capget", "capset", "clone", "execve", "execveat", "exit", "exit_group", "fork", "vfork", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrlimit", "get_robust_list", "getrusage", "getsid", "gettid", "kill", "pidfd_open", "pidfd_send_signal", "prctl",
    "prlimit64", "process_mrelease", "restart_syscall", "rseq", "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "set_robust_list", "set_tid_address", "setpgid", "setpriority",
    "setrlimit", "setsid", "tgkill", "tkill", "ugetrlimit", "wait4", "waitid", "waitpid", "ioprio_get", "ioprio_set", "get_thread_area",
    "set_thread_area", "arch_prctl", "getcpu",
  ],
  identity: [
    // Allowed as syscalls; without CAP_SETUID/SETGID and with no-new-privileges they can only drop, never gain.
    "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getresgid", "getresgid32",
    "getresuid", "getresuid32", "getuid", "getuid32", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid",
    "setreuid32", "setuid", "setuid32",
  ],
  signals: [
    "alarm", "pause", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
  ],
  time: [
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "getitimer",
    "gettimeofday", "nanosleep", "setitimer", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
  ],
  events: [
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
    "eventfd2", "futex", "futex_time64", "futex_waitv", "_newselect", "pipe", "pipe2", "poll", "ppoll", "ppoll_time64", "pselect6",
    "pselect6_time64", "select", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit",
  ],
  network: [
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen", "recv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "send", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socketcall", "socketpair",
  ],
  ipc: [
    "ipc", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "shmat", "shmctl",
    "shmdt", "shmget",
  ],
  system: ["getrandom", "sysinfo", "uname", "ioctl", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self"],
};

/** clone's namespace flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET): clone is allowed only without them. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const AF_VSOCK = 40;

export interface SeccompSyscallRule {
  names: string[];
  action: "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO";
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

export interface SeccompProfile {
  defaultAction: "SCMP_ACT_ERRNO";
  defaultErrnoRet: number;
  archMap: { architecture: string; subArchitectures: string[] }[];
  syscalls: SeccompSyscallRule[];
}

export interface SeccompOptions {
  /** Extra syscalls to deny on top of {@link DENIED_SYSCALLS}. */
  readonly extraDenied?: readonly string[];
}

export function buildSeccompProfile(options: SeccompOptions = {}): SeccompProfile {
  const denied = new Set([...Object.keys(DENIED_SYSCALLS), ...(options.extraDenied ?? [])]);
  const allowed = [...new Set(Object.values(ALLOWED_GROUPS).flat())].filter((s) => !denied.has(s)).sort();
  const syscalls: SeccompSyscallRule[] = [{ names: allowed, action: "SCMP_ACT_ALLOW" }];
  if (!denied.has("clone")) {
    // x86/arm argument order: flags are argument 0. Allowed only when no namespace flag is set.
    const cloneIdx = syscalls[0]!.names.indexOf("clone");
    if (cloneIdx >= 0) syscalls[0]!.names.splice(cloneIdx, 1);
    syscalls.push({ names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] });
  }
  // Any address family but vsock (a channel to the hypervisor host). An extra denial of
  // socket (or personality, below) removes its filtered rule too, or the denial would be void.
  if (!denied.has("socket")) {
    syscalls.push({ names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: AF_VSOCK, op: "SCMP_CMP_NE" }] });
  }
  // Only the default personality (and the read-only query 0xffffffff), no exec-domain tricks.
  // (personality is in DENIED_SYSCALLS for its unconditional form; these values stay allowed.)
  if (!options.extraDenied?.includes("personality")) {
    for (const value of [0, 8, 0x20000, 0x20008, 0xffffffff]) {
      syscalls.push({ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value, op: "SCMP_CMP_EQ" }] });
    }
  }
  // clone3 answers ENOSYS so glibc and node fall back to clone, where the flags are checkable.
  syscalls.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 });
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    archMap: [
      { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
      { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    ],
    syscalls,
  };
}

/** The `securityOpts` entry for a profile: compact JSON, stable key order, so diffs stay quiet. */
export function seccompSecurityOpt(profile: SeccompProfile): string {
  return `seccomp=${JSON.stringify(profile)}`;
}
