// Reading a tenant's jobs out of its (tenant-written, so hostile) state database: the tar of one
// file from the engine's archive endpoint, and the SQLite file itself.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { parseWakerConfig } from "../src/config";
import { Engine } from "../src/engine";
import { extractSingleFile, readJobRows, STATE_DB } from "../src/job-store";
// The parse itself, in-process here (what the sandboxed reader runs; jobs-sandbox.test.ts runs it there).
import { readJobRowsFromFile } from "../src/jobs-reader";
import { stageReaderRuntime } from "./reader-runtime";

const dir = mkdtempSync(path.join(tmpdir(), "job-store-"));
// Node and the reader script where the reader's uid reaches them (reader-runtime.ts).
const runtime = stageReaderRuntime();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  runtime.remove();
});
let n = 0;
const fresh = () => path.join(dir, `f${n++}`);

/** A ustar header block (what Go's archive/tar, i.e. the engine, writes for one entry). */
function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, "utf8");
  h.write("0000600\0", 100);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write(type, 156);
  h.write("ustar\0", 257);
  return h;
}
const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const tar = (...parts: Buffer[]) => Readable.from([Buffer.concat([...parts, Buffer.alloc(1024)])]);

describe("extractSingleFile", () => {
  it("writes the one regular file, across any chunking, after a PAX header", async () => {
    const body = Buffer.from("x".repeat(1300));
    const pax = pad(Buffer.from("30 mtime=1796053981.123456789\n"));
    const whole = Buffer.concat([header("././@PaxHeader", 30, "x"), pax, header("openclaw.sqlite", body.length, "0"), pad(body), Buffer.alloc(1024)]);
    for (const size of [1, 7, 512, 100_000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < whole.length; i += size) chunks.push(whole.subarray(i, i + size));
      const dest = fresh();
      expect(await extractSingleFile(Readable.from(chunks), "openclaw.sqlite", dest, 10_000)).toBe(1300);
      expect(readFileSync(dest)).toEqual(body);
    }
  });

  it("refuses a symlink, a directory, another name, a size over the limit, and a cut tar", async () => {
    const body = Buffer.from("data");
    const cases: [Readable, RegExp][] = [
      [tar(header("openclaw.sqlite", 0, "2")), /not a regular file/],
      [tar(header("openclaw.sqlite", 0, "5")), /not a regular file/],
      [tar(header("other.sqlite", 4, "0"), pad(body)), /unexpected entry name/],
      [tar(header("openclaw.sqlite", 20_000, "0")), /larger than the 10000-byte limit/],
      [Readable.from([header("openclaw.sqlite", 4, "0").subarray(0, 300)]), /ended before the file was complete/],
      [tar(), /ended before the file/],
    ];
    for (const [stream, message] of cases) await expect(extractSingleFile(stream, "openclaw.sqlite", fresh(), 10_000)).rejects.toThrow(message);
    // positive control: the same shape with a regular file of the right name is written
    await expect(extractSingleFile(tar(header("openclaw.sqlite", 4, "0"), pad(body)), "openclaw.sqlite", fresh(), 10_000)).resolves.toBe(4);
  });
});

function db(setup: string): string {
  const file = fresh();
  const d = new DatabaseSync(file);
  d.exec(setup);
  d.close();
  return file;
}
const CRON = "CREATE TABLE cron_jobs (store_key TEXT NOT NULL, job_id TEXT NOT NULL, name TEXT NOT NULL, enabled INTEGER NOT NULL, state_json TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (store_key, job_id)) STRICT;";

describe("readJobRowsFromFile (a hostile state database)", () => {
  it("reads enabled and state_json of OpenClaw's cron_jobs", () => {
    const file = db(`${CRON} INSERT INTO cron_jobs VALUES ('s','1','heartbeat-main',1,'{"nextRunAtMs":1796055703230}'), ('s','2','off',0,'{}');`);
    expect(readJobRowsFromFile(file, 100)).toEqual([
      { enabled: 1, state_json: '{"nextRunAtMs":1796055703230}' },
      { enabled: 0, state_json: "{}" },
    ]);
  });

  it("refuses a cron_jobs that is a view (its body could call anything), a missing table, a non-database and too many rows — naming no content", () => {
    const cases: [string, RegExp][] = [
      [db(`${CRON.replace("cron_jobs", "real_jobs")} CREATE VIEW cron_jobs AS SELECT enabled, state_json FROM real_jobs;`), /not readable as OpenClaw's/],
      [db("CREATE TABLE other (x); CREATE VIEW cron_jobs AS SELECT 1 AS enabled, load_extension('/tmp/x') AS state_json;"), /not readable as OpenClaw's/],
      [db("CREATE TABLE unrelated (x);"), /not readable as OpenClaw's/],
      [db(`${CRON} WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 11) INSERT INTO cron_jobs SELECT 's', i, 'n', 1, '{}' FROM c;`), /more than 10 scheduled jobs/],
    ];
    const junk = fresh();
    writeFileSync(junk, "SQLite format 3\0 but then nonsense".padEnd(4096, "\u0001"));
    cases.push([junk, /not readable as OpenClaw's/]);
    for (const [file, message] of cases) {
      let err: unknown;
      try {
        readJobRowsFromFile(file, 10);
      } catch (e) {
        err = e;
      }
      expect(err, file).toBeInstanceOf(Error);
      expect((err as Error).name).toBe("JobStoreError");
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toMatch(/real_jobs|load_extension|nonsense/);
    }
  });

  it("a trigger in the file never runs (query-only, defensive, authorizer)", () => {
    const file = db(`${CRON} CREATE TABLE log (x); CREATE TRIGGER t AFTER UPDATE ON cron_jobs BEGIN INSERT INTO log VALUES (1); END; INSERT INTO cron_jobs VALUES ('s','1','n',1,'{}');`);
    expect(readJobRowsFromFile(file, 10)).toHaveLength(1);
    const d = new DatabaseSync(file);
    expect(d.prepare("SELECT count(*) AS c FROM log").get()).toEqual({ c: 0 });
    d.close();
  });
});

describe("readJobRows", () => {
  it("copies the database and its write-ahead log out through the engine's archive, reads them, and leaves no copy behind", async () => {
    // A live WAL-mode database with its last write still in the log (no checkpoint).
    const live = path.join(dir, "live");
    mkdirSync(live);
    const src = path.join(live, "openclaw.sqlite");
    const d = new DatabaseSync(src);
    d.exec(`PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; ${CRON} INSERT INTO cron_jobs VALUES ('s','1','n',1,'{"nextRunAtMs":5}');`);
    d.exec(`INSERT INTO cron_jobs VALUES ('s','2','n',1,'{"nextRunAtMs":7}');`);
    const files: Record<string, Buffer> = { [STATE_DB]: readFileSync(src), [`${STATE_DB}-wal`]: readFileSync(`${src}-wal`) };
    d.close();
    const asked: string[] = [];
    const engine = {
      archive: (gid: string, file: string) => {
        asked.push(`${gid} ${file}`);
        // the allow-list accepts exactly what is asked
        expect(Engine.allows("GET", `/containers/${gid}/archive?path=${encodeURIComponent(file)}`)).toBe(true);
        const body = files[file]!;
        return Promise.resolve(tar(header(path.basename(file), body.length, "0"), pad(body)));
      },
    };
    const scratch = path.join(dir, "scratch");
    const gid = "f".repeat(64);
    const rows = await readJobRows({ engine, scratchDir: scratch, maxBytes: 1 << 20, sandbox: { ...parseWakerConfig({ platform: "t" }).jobs.reader, uid: 10_094, gid: 10_094, node: runtime.node, script: runtime.script } }, gid);
    expect(rows.map((r) => r.state_json)).toEqual(['{"nextRunAtMs":5}', '{"nextRunAtMs":7}']);
    expect(asked).toEqual([`${gid} ${STATE_DB}`, `${gid} ${STATE_DB}-wal`]);
    expect(readdirSync(scratch)).toEqual([]);
  });
});
