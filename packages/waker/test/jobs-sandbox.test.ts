// The sandboxed jobs reader (src/jobs-sandbox.ts) on this machine's kernel: the process that
// parses a tenant's database cannot open a socket the waker's identity can (the engine socket's
// shape: root:<group> 0660), cannot read or signal a process of the waker's uid, and is bounded
// in time, CPU, answer size and lifetime (nothing it forks survives the read). Every probe has
// its positive control: the same probe run with the waker's identity succeeds.
//
// Needs root (setpriv switches uids), as the waker has CAP_SETUID/CAP_SETGID in its container.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWakerConfig } from "../src/config";
import { JobStoreError } from "../src/jobs-reader";
import { parseReaderAnswer, readInSandbox, runSandboxed, sandboxedArgv, type ReaderSandbox } from "../src/jobs-sandbox";
import { stageReaderRuntime } from "./reader-runtime";

// A uid of its own for this test: the sweep kills every process of the reader's uid, and on this
// host (one pid namespace for every test) the configured 10006 may be a real waker's reader.
// Node and the reader script where the reader's uid reaches them (reader-runtime.ts).
const runtime = stageReaderRuntime();
const SB: ReaderSandbox = { ...parseWakerConfig({ platform: "t" }).jobs.reader, uid: 10_096, gid: 10_096, node: runtime.node, script: runtime.script };
const WAKER = { uid: 10_005, gid: 10_005 };
// A group standing for the engine socket's: not the reader's, the waker's supplementary group.
const SOCKET_GID = 10_097;
const node = runtime.node;

let dir: string;
let sock: string;
let server: net.Server;
let wakerStandIn: ChildProcess;

/** A probe script, readable by every uid. */
function script(name: string, body: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, body, { mode: 0o644 });
  return f;
}

/** Whether a process runs (a zombie does not: it only waits for its parent, here pid 1, to reap it). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Runs argv as the waker's identity (uid 10005, the socket's group as supplementary group): the positive control. */
function asWaker(argv: string[]): { status: number | null; stdout: string } {
  const r = spawnSync("/usr/bin/setpriv", [`--reuid=${WAKER.uid}`, `--regid=${WAKER.gid}`, `--groups=${SOCKET_GID}`, "--", ...argv], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout };
}

const CONNECT = `const s=require("node:net").connect(process.argv[2]);s.on("connect",()=>{process.stdout.write("connected");s.destroy()});s.on("error",(e)=>process.stdout.write("refused:"+e.code));`;
const PROC = `const fs=require("node:fs");const pid=Number(process.argv[2]);const r=[];try{fs.readFileSync("/proc/"+pid+"/environ");r.push("environ:read")}catch(e){r.push("environ:"+e.code)}try{process.kill(pid,0);r.push("signal:ok")}catch(e){r.push("signal:"+e.code)}const st={};for(const l of fs.readFileSync("/proc/self/status","utf8").split("\\n")){const i=l.indexOf(":");st[l.slice(0,i)]=l.slice(i+1).trim().split(/\\s+/).filter(Boolean).join(",")}for(const k of ["Uid","Gid","Groups","CapPrm","CapEff","CapAmb","CapInh"])r.push(k+"="+st[k]);process.stdout.write(r.join(" "));`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "jobs-sandbox-"));
  chmodSync(dir, 0o711);
  sock = path.join(dir, "engine.sock");
  server = net.createServer((c) => c.end());
  await new Promise<void>((r) => server.listen(sock, r));
  chownSync(sock, 0, SOCKET_GID);
  chmodSync(sock, 0o660);
  // A process of the waker's uid, standing in for the waker itself.
  wakerStandIn = spawn("/usr/bin/setpriv", [`--reuid=${WAKER.uid}`, `--regid=${WAKER.gid}`, "--clear-groups", "--", node, "-e", "setInterval(()=>{},1000)"], { stdio: "ignore", env: { SECRET_OF_THE_WAKER: "x" } });
  await new Promise((r) => setTimeout(r, 300));
});

afterAll(() => {
  runtime.remove();
  wakerStandIn?.kill("SIGKILL");
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the reader cannot use what the waker holds", () => {
  it("cannot open a socket owned root:<the waker's group> 0660 — the waker's identity can", async () => {
    const probe = script("connect.cjs", CONNECT);
    expect(asWaker([node, probe, sock])).toMatchObject({ status: 0, stdout: "connected" });
    const out = (await runSandboxed(SB, [node, probe, sock])).toString();
    expect(out).toBe("refused:EACCES");
  });

  it("runs with no capability, no supplementary group, and cannot read or signal a process of the waker's uid — a process of that uid can", async () => {
    const probe = script("proc.cjs", PROC);
    const pid = String(wakerStandIn.pid);
    const control = asWaker([node, probe, pid]);
    expect(control.stdout).toMatch(/^environ:read signal:ok /);
    const out = (await runSandboxed(SB, [node, probe, pid])).toString();
    expect(out).toMatch(/^environ:EACCES signal:EPERM /);
    expect(out).toContain(`Uid=${SB.uid},${SB.uid},${SB.uid},${SB.uid}`);
    expect(out).toContain(`Gid=${SB.gid},${SB.gid},${SB.gid},${SB.gid}`);
    expect(out).toContain("Groups= ");
    for (const set of ["CapPrm", "CapEff", "CapAmb", "CapInh"]) expect(out).toContain(`${set}=0000000000000000`);
    // the argv the reader is started with says the same
    expect(sandboxedArgv(SB, ["x"])).toEqual(expect.arrayContaining(["--clear-groups", "--inh-caps=-all", "--ambient-caps=-all", `--reuid=${SB.uid}`, `--regid=${SB.gid}`]));
  });

  it("refuses a sandbox that shares the waker's own uid or group", async () => {
    // (this test runs as root: the own uid is 0, the very case the sweep must never run as)
    for (const bad of [{ uid: process.getuid!() }, { gid: process.getgid!() }, { uid: 0 }, { gid: 0 }, { uid: -1 }]) {
      await expect(runSandboxed({ ...SB, ...bad }, [node, "-e", ""]), JSON.stringify(bad)).rejects.toThrow(/root or the waker's own/);
    }
    // positive control: the configured one runs
    await expect(runSandboxed(SB, [node, "-e", "process.stdout.write('ok')"])).resolves.toEqual(Buffer.from("ok"));
  });
});

describe("the reader is bounded", () => {
  it("in wall time: a reader that hangs is killed and the read fails", async () => {
    const t0 = Date.now();
    await expect(runSandboxed({ ...SB, timeoutMs: 1_500 }, [node, "-e", "setInterval(()=>{},1000)"])).rejects.toThrow(/did not finish within 1500 ms/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it("in CPU time (RLIMIT_CPU holds without the waker's timer)", async () => {
    await expect(runSandboxed({ ...SB, cpuS: 1, timeoutMs: 120_000 }, [node, "-e", "for(;;){}"])).rejects.toThrow(/the reader exited (SIGXCPU|SIGKILL)/);
  });

  it("in memory: past its heap it dies, the waker does not", async () => {
    await expect(runSandboxed({ ...SB, heapMb: 16 }, [node, "--max-old-space-size=16", "-e", "const a=[];for(;;)a.push(new Array(1e5).fill(7))"])).rejects.toThrow(/the reader exited/);
  });

  it("in answer size", async () => {
    await expect(runSandboxed({ ...SB, maxOutputBytes: 4096 }, [node, "-e", "process.stdout.write('x'.repeat(1<<20))"])).rejects.toThrow(/larger than 4096 bytes/);
  });

  it("in lifetime: what it forks is killed after the read (also a process holding its stdout)", async () => {
    const out = await runSandboxed(SB, [node, "-e", "const c=require('node:child_process').spawn('/bin/sleep',['1000'],{detached:true,stdio:['ignore','inherit','ignore']});c.unref();process.stdout.write(String(c.pid))"]);
    const pid = Number(out.toString());
    expect(pid).toBeGreaterThan(1);
    // SIGKILL is pending once the sweep returns (no more user code runs); dying takes a moment on a loaded host
    await expect.poll(() => alive(pid), { timeout: 5_000, interval: 50 }).toBe(false);
    // positive control: the same fork outside the sandbox does live on
    const r = spawnSync(node, ["-e", "const c=require('node:child_process').spawn('/bin/sleep',['1000'],{detached:true,stdio:'ignore'});c.unref();process.stdout.write(String(c.pid))"], { encoding: "utf8" });
    const free = Number(r.stdout);
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(free)).toBe(true);
    process.kill(free, "SIGKILL");
  });
});

describe("one read at a time", () => {
  it("a read's files are opened to the reader's uid (prepare) only after the read before it is over, sweep included", async () => {
    const order: string[] = [];
    const first = runSandboxed(SB, [node, "-e", "setTimeout(()=>process.stdout.write('a'),800)"]).then((b) => order.push(`first done ${b.toString()}`));
    const second = runSandboxed(SB, [node, "-e", "process.stdout.write('b')"], () => Promise.resolve(void order.push("second prepared"))).then((b) => order.push(`second done ${b.toString()}`));
    await Promise.all([first, second]);
    expect(order).toEqual(["first done a", "second prepared", "second done b"]);
  });
});

describe("the reader's answer is believed only as far as its shape", () => {
  it("property: any answer becomes rows of two plausible times, or a JobStoreError naming none of it", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ ok: fc.constant(true), rows: fc.array(fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.double(), fc.string()), { maxLength: 4 }), { maxLength: 5 }) }), fc.record({ ok: fc.constant(false), kind: fc.string(), errcode: fc.anything() })), (a) => {
        const raw = JSON.stringify(a) ?? "";
        try {
          const rows = parseReaderAnswer(raw, 10);
          for (const r of rows) {
            expect([0, 1]).toContain(r.enabled);
            const state = JSON.parse(r.state_json as string) as Record<string, unknown>;
            for (const [k, v] of Object.entries(state)) {
              expect(["nextRunAtMs", "runningAtMs"]).toContain(k);
              expect(Number.isSafeInteger(v) && (v as number) > 0).toBe(true);
            }
          }
        } catch (err) {
          expect(err).toBeInstanceOf(JobStoreError);
          // the message is the waker's own words: nothing of a string the reader sent
          for (const s of raw.match(/"[^"]{4,}"/g) ?? []) if (!/^"(ok|rows|kind|errcode|not-openclaw|too-many-rows)"$/.test(s)) expect((err as Error).message).not.toContain(s.slice(1, -1));
        }
      }),
      { numRuns: Number(process.env.OCTW_FUZZ_RUNS ?? 300) },
    );
  });

  it("reads a real database in the sandbox; a hostile one is unreadable there with the waker's words", async () => {
    const { DatabaseSync } = await import("node:sqlite");
    const mk = (name: string, sql: string) => {
      const f = path.join(dir, name);
      const d = new DatabaseSync(f);
      d.exec(sql);
      d.close();
      chmodSync(f, 0o606);
      return f;
    };
    chmodSync(dir, 0o713); // the reader may create SQLite's side files here, as in the scratch directory
    const CRON = "CREATE TABLE cron_jobs (store_key TEXT NOT NULL, job_id TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL, state_json TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (store_key, job_id)) STRICT;";
    const good = mk("good.sqlite", `${CRON} INSERT INTO cron_jobs VALUES ('s','1','a',1,'{"nextRunAtMs":1796055703230,"junk":"x"}'), ('s','2','b',0,'{}'), ('s','3','c',1,'not json');`);
    expect(await readInSandbox(SB, good, 100)).toEqual([
      { enabled: 1, state_json: '{"nextRunAtMs":1796055703230}' },
      { enabled: 0, state_json: "{}" },
    ]);
    const view = mk("view.sqlite", "CREATE TABLE other (x); CREATE VIEW cron_jobs AS SELECT 1 AS enabled, load_extension('/tmp/secret_marker') AS state_json;");
    const err = await readInSandbox(SB, view, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobStoreError);
    expect((err as Error).message).toMatch(/^state database: not readable as OpenClaw's \(SQLite error \d+\)$/);
    const many = mk("many.sqlite", `${CRON} WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 11) INSERT INTO cron_jobs SELECT 's', i, 'n', 1, '{}' FROM c;`);
    await expect(readInSandbox(SB, many, 10)).rejects.toThrow("state database: more than 10 scheduled jobs");
  });
});
