// Runs the jobs reader (jobs-reader.ts) out of the waker's process: as another uid and gid, with
// no supplementary group and no capability, so the process that parses a tenant's SQLite file
// can neither open the engine socket (owned root:<socket group>, 0660) nor ptrace, signal or read
// the waker (another uid; /proc/<pid>/mem and pidfd_getfd need ptrace rights over the target).
//
// How: the waker runs as uid 10005 with CAP_SETUID and CAP_SETGID as ambient capabilities (the
// container starts as root with only those two and drops to 10005 + the socket's group through
// setpriv, components/waker.ts), and starts every read through `setpriv --reuid --regid
// --clear-groups --inh-caps=-all --ambient-caps=-all`: the reader's node starts with empty
// capability sets, and no-new-privileges (the container's) means no setuid binary or file
// capability can give any back.
//
// Bounds: one read at a time (a reader cannot reach another tenant's read), a wall-clock timeout
// then SIGKILL, node's heap (`--max-old-space-size`), SQLite's heap (hard_heap_limit, in the
// reader), RLIMIT_CPU (prlimit), at most `maxOutputBytes` of answer, the reader's oom_score_adj at 1000, and
// after every read every process of the reader's uid is killed (`kill -KILL -1` as that uid),
// so nothing a compromised reader forked lives on to watch the next one.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { WakerConfig } from "./config";
import type { JobRow } from "./jobs";
import { JobStoreError } from "./jobs-reader";

/** The reader's sandbox: the waker config's `jobs.reader` (config.ts declares and documents it). */
export type ReaderSandbox = WakerConfig["jobs"]["reader"];

const READER = fileURLToPath(new URL("./jobs-reader.ts", import.meta.url));

/** The argv that runs `args` as the sandbox's uid/gid with nothing else. */
export function sandboxedArgv(sb: ReaderSandbox, args: readonly string[]): string[] {
  return [
    `--reuid=${sb.uid}`,
    `--regid=${sb.gid}`,
    "--clear-groups",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    // The reader dies with the waker.
    "--pdeathsig=KILL",
    "--",
    ...args,
  ];
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  overflow: boolean;
  timedOut: boolean;
}

function run(sb: ReaderSandbox, args: readonly string[], timeoutMs: number, maxOut: number): Promise<Exit> {
  return new Promise((resolve, reject) => {
    // No environment of the waker's (its config path, proxies) reaches the reader.
    // cwd "/": the reader needs no directory of the waker's (and may not be allowed into it).
    const child = spawn(sb.setpriv, sandboxedArgv(sb, args), { cwd: "/", stdio: ["ignore", "pipe", "ignore"], env: { PATH: "/usr/bin:/bin", NODE_OPTIONS: "" }, detached: false });
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      size += d.length;
      if (size > maxOut) {
        overflow = true;
        child.kill("SIGKILL");
        return;
      }
      chunks.push(d);
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // "exit", not "close": a process the reader forked could hold its stdout open for ever.
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const done = () => resolve({ code, signal, stdout: Buffer.concat(chunks), overflow, timedOut });
      if (child.stdout.readableEnded) return done();
      const grace = setTimeout(() => {
        child.stdout.destroy();
        done();
      }, 1_000);
      child.stdout.once("close", () => {
        clearTimeout(grace);
        done();
      });
    });
  });
}

/**
 * Kills every process of the sandbox's uid (what a compromised reader may have left behind).
 * kill(-1) as that uid reaches exactly the processes that uid may signal: its own — in the
 * waker's container, the readers only. Never as root or as this process's own uid: there it
 * would reach everything (checkSeparate refuses such a sandbox; this guard holds regardless).
 */
async function sweep(sb: ReaderSandbox): Promise<void> {
  if (!Number.isSafeInteger(sb.uid) || sb.uid <= 0 || sb.uid === process.getuid?.()) return;
  // …and the shell checks once more that it is that uid before it kills.
  await run(sb, ["/bin/sh", "-c", `[ "$(id -u)" = "${sb.uid}" ] && kill -KILL -1`], 10_000, 0).catch(() => undefined);
}

let queue: Promise<unknown> = Promise.resolve();

/** One read at a time, whatever the caller: a sandboxed reader never runs beside another. */
function serialized<T>(task: () => Promise<T>): Promise<T> {
  const next = queue.then(task, task);
  queue = next.catch(() => undefined);
  return next;
}

const isTime = (v: unknown): v is number | null => v === null || (typeof v === "number" && Number.isSafeInteger(v) && v > 0);

/** The reader's answer, believed only as far as its shape: rows back as JobRow for jobs.ts. */
export function parseReaderAnswer(raw: string, maxRows: number): JobRow[] {
  let answer: unknown;
  try {
    answer = JSON.parse(raw);
  } catch {
    throw new JobStoreError("state database: the reader gave no answer");
  }
  const a = answer as { ok?: unknown; rows?: unknown; kind?: unknown; errcode?: unknown };
  if (a?.ok === false) {
    if (a.kind === "too-many-rows") throw new JobStoreError(`state database: more than ${maxRows} scheduled jobs`, "too-many-rows");
    const code = typeof a.errcode === "number" && Number.isSafeInteger(a.errcode) && a.errcode >= 0 && a.errcode < 1 << 16 ? a.errcode : "unknown";
    if (a.kind === "not-openclaw") throw new JobStoreError(`state database: not readable as OpenClaw's (SQLite error ${code})`, "not-openclaw");
    throw new JobStoreError("state database: the reader failed");
  }
  if (a?.ok !== true || !Array.isArray(a.rows) || a.rows.length > maxRows) throw new JobStoreError("state database: the reader's answer is malformed");
  return (a.rows as unknown[]).map((r: unknown) => {
    const row: readonly unknown[] = Array.isArray(r) && r.length === 3 ? (r as unknown[]) : [];
    const enabled: unknown = row[0];
    const next: unknown = row[1];
    const running: unknown = row[2];
    if ((enabled !== 0 && enabled !== 1) || !isTime(next) || !isTime(running)) throw new JobStoreError("state database: the reader's answer is malformed");
    const state: Record<string, number> = {};
    if (next !== null) state["nextRunAtMs"] = next;
    if (running !== null) state["runningAtMs"] = running;
    return { enabled, state_json: JSON.stringify(state) };
  });
}

/** Refuses a sandbox that would share an id with this process, or be root: the barrier would be gone. */
function checkSeparate(sb: ReaderSandbox): void {
  const groups = new Set([process.getgid?.(), ...(process.getgroups?.() ?? [])]);
  if (!Number.isSafeInteger(sb.uid) || !Number.isSafeInteger(sb.gid) || sb.uid <= 0 || sb.gid <= 0 || sb.uid === process.getuid?.() || groups.has(sb.gid)) {
    throw new JobStoreError("state database: the reader's uid or gid is root or the waker's own: refusing to read");
  }
}

/**
 * Runs `argv` in the sandbox, bounded (time, CPU, answer size), one at a time, and sweeps the
 * sandbox's uid afterwards. Resolves with its stdout when it exited 0; every failure is a
 * JobStoreError naming no output.
 */
export function runSandboxed(sb: ReaderSandbox, argv: readonly string[], prepare?: () => Promise<void>): Promise<Buffer> {
  return serialized(async () => {
    // Before anything runs as the sandbox's uid, the sweep included.
    checkSeparate(sb);
    try {
      // In this read's turn: what it opens to the reader's uid is open only while no other read runs.
      await prepare?.();
      const exit = await run(sb, [sb.prlimit, `--cpu=${sb.cpuS}`, "--", ...argv], sb.timeoutMs, sb.maxOutputBytes);
      if (exit.timedOut) throw new JobStoreError(`state database: the reader did not finish within ${sb.timeoutMs} ms`);
      if (exit.overflow) throw new JobStoreError(`state database: the reader's answer is larger than ${sb.maxOutputBytes} bytes`);
      if (exit.code !== 0) throw new JobStoreError(`state database: the reader exited ${exit.code ?? exit.signal ?? "abnormally"}`);
      return exit.stdout;
    } catch (err) {
      if (err instanceof JobStoreError) throw err;
      // The reader could not be started (no setpriv, no CAP_SETUID): never parse in-process.
      throw new JobStoreError(`state database: the sandboxed reader could not run (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    } finally {
      await sweep(sb);
    }
  });
}

/**
 * Reads the job rows of the database copy `dbFile` in a sandboxed reader. The file, its log and
 * its directory must be usable by the sandbox's uid: `prepare` (job-store.ts) makes them so, in
 * this read's turn.
 */
export async function readInSandbox(sb: ReaderSandbox, dbFile: string, maxRows: number, prepare?: () => Promise<void>): Promise<JobRow[]> {
  const out = await runSandboxed(sb, [sb.node, "--no-warnings", `--max-old-space-size=${sb.heapMb}`, sb.script ?? READER, dbFile, String(maxRows)], prepare);
  return parseReaderAnswer(out.toString("utf8"), maxRows);
}
