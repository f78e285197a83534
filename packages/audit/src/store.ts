import type pg from "pg";
import { ChainVerifier, type BrokenLink, type ChainRow } from "./chain";
import { AUDIT_SCHEMA } from "./migrations";

const S = AUDIT_SCHEMA;
type Queryable = Pick<pg.ClientBase, "query">;

// Every field exactly as it was hashed (see chain.ts): time in a fixed UTC format with
// microseconds, details as Postgres' own jsonb text.
const CHAIN_COLUMNS = `id::text AS id, tenant, seq::text AS seq,
  to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time,
  actor, action, target, decision, details::text AS details,
  idempotency_key AS "idempotencyKey", prev_hash AS "prevHash", hash`;

export interface TenantVerification {
  tenant: string;
  /** Rows whose link verified before the first broken one (all rows if intact). */
  verified: number;
  broken: BrokenLink | null;
}

export interface VerifyReport {
  ok: boolean;
  tenants: TenantVerification[];
  /** The first broken link over all tenants checked (tenants in name order). */
  firstBroken: BrokenLink | null;
}

/** Tenants that have a chain: from the heads, and from the events (a head could be missing). */
async function listTenants(db: Queryable, headsReadable: boolean): Promise<string[]> {
  const sql = headsReadable
    ? `SELECT tenant FROM ${S}.audit_heads UNION SELECT DISTINCT tenant FROM ${S}.audit_events ORDER BY 1`
    : `SELECT DISTINCT tenant FROM ${S}.audit_events ORDER BY 1`;
  const { rows } = await db.query<{ tenant: string }>(sql);
  return rows.map((r) => r.tenant);
}

async function canReadHeads(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(`SELECT has_table_privilege('${S}.audit_heads', 'SELECT') AS ok`);
  return rows[0]?.ok === true;
}

/**
 * Walks each tenant's chain in seq order and reports the first broken link. Run as the owner
 * (or a superuser) to check all tenants; a tenant reader checks its own tenant (row-level
 * security hides the rest).
 *
 * Streamed: one server-side cursor per tenant, read `pageSize` rows at a time (default 5 000)
 * with the next page asked for before the current one is hashed, so memory holds two pages
 * however long the chain. Everything is read in one REPEATABLE READ, READ ONLY transaction: the
 * chains and heads are one snapshot, so events appended while a long verify runs can neither
 * show up as a head mismatch nor be half-read. `db` must therefore be one connection (a client,
 * not a pool) that is not inside a transaction — unless `withinTransaction`: then it reads in
 * the caller's open transaction (and sees its uncommitted rows: `octw restore audit` verifies
 * what it restored before it commits), and leaves commit or rollback to the caller.
 */
export async function verifyAuditChain(
  db: Queryable,
  options: { tenant?: string; pageSize?: number; anchors?: readonly ExportedHead[]; withinTransaction?: boolean } = {},
): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? 5_000;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error(`pageSize: must be a positive integer, got ${String(pageSize)}`);
  const anchors = new Map<string, Map<string, Buffer>>();
  for (const a of options.anchors ?? []) {
    if (options.tenant !== undefined && a.tenant !== options.tenant) continue;
    if (!/^[0-9a-f]{64}$/.test(a.hash) || !/^[0-9]+$/.test(a.seq)) throw new Error(`anchors: entry for tenant ${a.tenant} needs seq (digits) and hash (64 hex digits)`);
    const m = anchors.get(a.tenant) ?? new Map<string, Buffer>();
    m.set(a.seq, Buffer.from(a.hash, "hex"));
    anchors.set(a.tenant, m);
  }
  const own = options.withinTransaction !== true;
  if (own) await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const headsReadable = await canReadHeads(db);
    let tenants = options.tenant !== undefined ? [options.tenant] : await listTenants(db, headsReadable);
    // An anchored tenant whose events have all vanished must still be checked (and fail).
    tenants = [...new Set([...tenants, ...anchors.keys()])].sort();
    const results: TenantVerification[] = [];
    for (const tenant of tenants) {
      const verifier = new ChainVerifier(tenant, anchors.get(tenant));
      await db.query(`DECLARE octw_verify NO SCROLL CURSOR FOR SELECT ${CHAIN_COLUMNS} FROM ${S}.audit_events e WHERE e.tenant = $1 ORDER BY e.seq`, [tenant]);
      const page = (): Promise<pg.QueryResult<ChainRow>> => db.query<ChainRow>(`FETCH FORWARD ${pageSize} FROM octw_verify`);
      let next: Promise<pg.QueryResult<ChainRow>> | null = page();
      while (next) {
        const { rows }: { rows: ChainRow[] } = await next;
        // Postgres reads the next page while this process hashes this one.
        next = rows.length === pageSize ? page() : null;
        let goOn = true;
        for (const row of rows) {
          if (!verifier.push(row)) {
            goOn = false;
            break;
          }
        }
        if (!goOn) {
          // Let the prefetched page finish, so the connection is idle for the next statement.
          await next?.catch(() => {});
          break;
        }
      }
      await db.query("CLOSE octw_verify");
      let head = null;
      if (headsReadable) {
        const { rows } = await db.query<{ seq: string; hash: Buffer }>(`SELECT seq::text AS seq, hash FROM ${S}.audit_heads WHERE tenant = $1`, [tenant]);
        // Events without a head means the head row was removed: compare against "nothing".
        head = rows[0] ?? { seq: "0", hash: Buffer.alloc(32) };
      }
      const broken = verifier.finish(head);
      results.push({ tenant, verified: verifier.verified, broken });
    }
    if (own) await db.query("COMMIT");
    const firstBroken = results.find((r) => r.broken)?.broken ?? null;
    return { ok: firstBroken === null, tenants: results, firstBroken };
  } catch (err) {
    if (own) await db.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/** A chain head as exported for safekeeping outside the database (hash as hex). */
export interface ExportedHead {
  tenant: string;
  seq: string;
  hash: string;
}

/** The current head of every chain (or one tenant's), to keep outside the database as anchors. */
export async function exportHeads(db: Queryable, options: { tenant?: string } = {}): Promise<ExportedHead[]> {
  const { rows } = await db.query<ExportedHead>(
    `SELECT tenant, seq::text AS seq, encode(hash, 'hex') AS hash FROM ${S}.audit_heads
      WHERE ($1::text IS NULL OR tenant = $1) AND seq > 0 ORDER BY tenant`,
    [options.tenant ?? null],
  );
  return rows;
}

export interface StoredEvent {
  id: string;
  tenant: string;
  seq: string;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  decision: string | null;
  details: Record<string, unknown> | null;
  idempotencyKey: string;
  hash: string;
}

/** The newest `limit` events (optionally of one tenant) in id order, and those after `afterId`. */
export async function readEvents(db: Queryable, options: { tenant?: string; limit?: number; afterId?: string } = {}): Promise<StoredEvent[]> {
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new Error(`limit: must be an integer from 1 to 100000, got ${String(limit)}`);
  const params: unknown[] = [options.tenant ?? null, limit];
  let sql: string;
  const cols = `id::text AS id, tenant, seq::text AS seq, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time,
    actor, action, target, decision, details, idempotency_key AS "idempotencyKey", encode(hash, 'hex') AS hash`;
  if (options.afterId !== undefined) {
    params.push(options.afterId);
    sql = `SELECT ${cols} FROM ${S}.audit_events WHERE ($1::text IS NULL OR tenant = $1) AND audit_events.id > $3::bigint ORDER BY audit_events.id LIMIT $2`;
  } else {
    sql = `SELECT * FROM (SELECT ${cols} FROM ${S}.audit_events WHERE ($1::text IS NULL OR tenant = $1) ORDER BY audit_events.id DESC LIMIT $2) newest ORDER BY newest.id::bigint`;
  }
  const { rows } = await db.query<StoredEvent>(sql, params);
  return rows;
}
