import { userInfo } from "node:os";
import pg from "pg";
import { AUDIT_SCHEMA, normalizeEvent, type AuditEventInput } from "@octw/audit";

export const DATABASE_URL_ENV = "OCTW_AUDIT_DATABASE_URL";

/**
 * The connection URL comes from --database-url or, preferably, the environment: a password
 * in argv is visible to every user of the machine through the process list.
 */
export function databaseUrl(option: string | undefined): string {
  const url = option ?? process.env[DATABASE_URL_ENV];
  if (!url) throw new Error(`database URL: pass --database-url or set ${DATABASE_URL_ENV} (a postgres:// URL)`);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error("database URL: must start with postgres:// or postgresql://");
  return url;
}

export async function withPool<T>(url: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
  pool.on("error", () => {});
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/** Who the CLI's own audit events name as actor. */
export function cliActor(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this UID (containers): keep "unknown".
  }
  return `octw-cli:${user}`;
}

/**
 * Records the CLI's own actions straight into Postgres (no spool): a CLI command whose audit
 * event cannot be stored fails, so nothing it did goes unrecorded.
 */
export function directAudit(pool: pg.Pool): { record(event: AuditEventInput): Promise<void> } {
  return {
    async record(event) {
      await pool.query(`SELECT ${AUDIT_SCHEMA}.append_events($1::jsonb)`, [JSON.stringify([normalizeEvent(event)])]);
    },
  };
}
