// The audit database, backed up and restored through `pg` as the owner role: a logical copy of
// the rows, not of the cluster. Why not pg_dump/pg_restore: a dump carries ownership, grants
// and role names of the source cluster (the target's roles are the platform's, created by
// Pulumi with their own passwords), needs client binaries matching the server, and restoring
// the schema would bypass the migrations that give every service role exactly its grants. So:
// the target is migrated and granted first (`octw audit migrate --apply-grants`, as the
// platform does), and restore fills its tables with the backup's rows — ids, sequence numbers
// and hashes exactly as they were, so every tenant's hash chain is the same chain, and the
// heads recorded in the manifest at backup time must be the restored chains' heads
// (verifyAuditChain with them as anchors, inside the restoring transaction: a chain that does
// not verify is never committed). Not copied: schema_migrations and append_grants (the
// migrations write them) and roles (cluster objects). tenant_secrets is copied sealed: opening
// it still needs the platform's master keyring, which this backup does not hold.
import { StringDecoder } from "node:string_decoder";
import { Readable } from "node:stream";
import type pg from "pg";
import { AUDIT_SCHEMA, exportHeads, quoteIdent, verifyAuditChain, type ExportedHead } from "@octw/audit";
import type { BackupKey } from "./backup-key";
import { decryptArchive, readManifest, RestoreRefused, writeArchive, type Manifest } from "./archive-file";

const S = AUDIT_SCHEMA;
/** Written by `octw audit migrate`, not by restore. */
const NOT_COPIED = new Set(["schema_migrations", "append_grants"]);
const BATCH = 5_000;

async function versions(c: pg.ClientBase): Promise<number[]> {
  const { rows } = await c.query<{ version: number }>(`SELECT version FROM ${S}.schema_migrations ORDER BY version`);
  return rows.map((r) => r.version);
}

async function tables(c: pg.ClientBase): Promise<string[]> {
  const { rows } = await c.query<{ t: string }>(`SELECT c.relname AS t FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`, [S]);
  return rows.map((r) => r.t).filter((t) => !NOT_COPIED.has(t));
}

/** JSON lines: a header, then per table a {"table"} line followed by its rows as {"r"} lines. */
async function* dumpLines(c: pg.ClientBase, vs: number[], ts: string[]): AsyncGenerator<Buffer> {
  yield Buffer.from(JSON.stringify({ octw: "audit-db", migrations: vs, tables: ts }) + "\n");
  for (const t of ts) {
    yield Buffer.from(JSON.stringify({ table: t }) + "\n");
    const qt = `${S}.${quoteIdent(t)}`;
    // audit_events can be large: keyset pages by id; the others are small, ordered for a stable plaintext
    if (t === "audit_events") {
      let after = "0";
      for (;;) {
        const { rows } = await c.query<{ j: string; id: string }>(`SELECT row_to_json(x)::text AS j, x.id::text AS id FROM ${qt} x WHERE x.id > $1 ORDER BY x.id LIMIT ${BATCH}`, [after]);
        if (rows.length === 0) break;
        yield Buffer.from(rows.map((r) => `{"r":${r.j}}\n`).join(""));
        after = rows.at(-1)!.id;
      }
    } else {
      const { rows } = await c.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM ${qt} x ORDER BY 1`);
      if (rows.length) yield Buffer.from(rows.map((r) => `{"r":${r.j}}\n`).join(""));
    }
  }
}

export async function backupAuditDb(opts: { pool: pg.Pool; file: string; key: BackupKey; sourceHost?: string }): Promise<Manifest> {
  const c = await opts.pool.connect();
  try {
    // one snapshot: the rows and the heads agree
    await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const vs = await versions(c);
    const ts = await tables(c);
    const heads = await exportHeads(c);
    const m = await writeArchive(opts.file, opts.key, { kind: "audit-db", ...(opts.sourceHost ? { sourceHost: opts.sourceHost } : {}) }, Readable.from(dumpLines(c, vs, ts)), () => ({ heads }));
    await c.query("COMMIT");
    return m;
  } catch (e) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/** Splits a byte stream (UTF-8) into lines. */
export async function* lines(src: Readable): AsyncGenerator<string> {
  // One decoder across chunks: a multi-byte character split between two chunks must not become
  // two replacement characters (that changed restored rows, and their chains stopped verifying).
  const decoder = new StringDecoder("utf8");
  let rest = "";
  for await (const chunk of src) {
    rest += decoder.write(chunk as Buffer);
    let i: number;
    while ((i = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, i);
      rest = rest.slice(i + 1);
    }
  }
  rest += decoder.end();
  if (rest) yield rest;
}

export interface AuditRestoreResult {
  manifest: Manifest;
  rows: Record<string, number>;
  tenants: number;
  events: number;
}

/**
 * Restores into a migrated, granted, empty audit database (connect as its owner). Refuses a
 * wrong key, a changed manifest or archive and a checksum mismatch before writing; a target
 * with other migrations than the backup's, or with any rows in the copied tables (a second
 * chain for a tenant would fork it: there is no --replace here); commits only when every
 * chain verifies and ends at the head recorded at backup time.
 */
export async function restoreAuditDb(opts: { pool: pg.Pool; file: string; key: BackupKey }): Promise<AuditRestoreResult> {
  const manifest = await readManifest(opts.file, opts.key, "audit-db");
  await decryptArchive(opts.file, opts.key, manifest);
  const c = await opts.pool.connect();
  const rows: Record<string, number> = {};
  try {
    await c.query("BEGIN");
    const vs = await versions(c);
    const ts = await tables(c);
    for (const t of ts) {
      const { rows: any } = await c.query(`SELECT 1 FROM ${S}.${quoteIdent(t)} LIMIT 1`);
      if (any.length) throw new RestoreRefused("target-not-empty", `audit database: table ${t} is not empty: restore needs a freshly migrated database (a tenant's chain must not be merged with another)`);
    }
    await decryptArchive(opts.file, opts.key, manifest, async (plain) => {
      let table: string | undefined;
      let batch: unknown[] = [];
      const flush = async () => {
        if (!table || batch.length === 0) return;
        await c.query(`INSERT INTO ${S}.${quoteIdent(table)} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::${S}.${quoteIdent(table)}, $1::jsonb)`, [JSON.stringify(batch)]);
        rows[table] = (rows[table] ?? 0) + batch.length;
        batch = [];
      };
      let first = true;
      for await (const line of lines(plain)) {
        const v = JSON.parse(line) as { octw?: string; migrations?: number[]; tables?: string[]; table?: string; r?: unknown };
        if (first) {
          first = false;
          if (v.octw !== "audit-db") throw new RestoreRefused("format", "archive: not an audit database backup");
          if (JSON.stringify(v.migrations) !== JSON.stringify(vs)) throw new Error(`audit database: the target's migrations (${vs.join(",")}) differ from the backup's (${(v.migrations ?? []).join(",")}): run \`octw audit migrate\` of the same version first`);
          const missing = (v.tables ?? []).filter((t) => !ts.includes(t));
          if (missing.length) throw new Error(`audit database: the target has no table(s) ${missing.join(", ")}`);
          continue;
        }
        if (v.table !== undefined) {
          await flush();
          if (!ts.includes(v.table)) throw new RestoreRefused("format", "archive: names a table the backup header did not list");
          table = v.table;
        } else {
          batch.push(v.r);
          if (batch.length >= BATCH) await flush();
        }
      }
      await flush();
    });
    await c.query(`SELECT setval(pg_get_serial_sequence('${S}.audit_events', 'id'), m) FROM (SELECT max(id) AS m FROM ${S}.audit_events) x WHERE m IS NOT NULL`);
    const heads: ExportedHead[] = manifest.heads ?? [];
    // inside the restoring transaction: what does not verify is never committed
    const report = await verifyAuditChain(c, { anchors: heads, withinTransaction: true });
    const now = await exportHeads(c);
    if (!report.ok) throw new Error(`audit database: the restored chain of tenant ${report.firstBroken?.tenant ?? "?"} does not verify (${report.firstBroken?.reason ?? "?"}): nothing restored`);
    if (JSON.stringify(now) !== JSON.stringify(heads)) throw new Error("audit database: the restored heads differ from the heads recorded at backup time: nothing restored");
    await c.query("COMMIT");
    return { manifest, rows, tenants: report.tenants.length, events: report.tenants.reduce((n, t) => n + t.verified, 0) };
  } catch (e) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}
