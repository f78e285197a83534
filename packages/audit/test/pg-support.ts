import { randomBytes } from "node:crypto";
import pg from "pg";
import { SERVICE_ROLES, applyGrants, applyMigrations, bindTenantReader, quoteIdent, quoteLiteral, requiredGrants, type AuditRoles } from "../src/index";

/** The shared test server's superuser URL. Missing = failure, never a skip. */
export function requirePgUrl(): string {
  const url = process.env.OCTW_TEST_PG_URL;
  if (!url) throw new Error("OCTW_TEST_PG_URL is not set: run scripts/test-env.sh (it starts Postgres) and export .octw/test-env.env");
  return url;
}

export function urlFor(base: string, user: string, password: string, database: string): string {
  const u = new URL(base);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestAuditDb {
  database: string;
  roles: AuditRoles;
  superUrl: string;
  /** The owner, which is also the operator's role (approvals, secrets set/rotate). */
  ownerUrl: string;
  /** Login URL of each service's own role. */
  edgeUrl: string;
  routerUrl: string;
  shipperUrl: string;
  wakerUrl: string;
  /** Creates a login role, member of roles.reader, bound to `tenant`; returns its URL. */
  tenantReader(tenant: string): Promise<{ role: string; url: string }>;
  /** Creates a login role member of roles.reader but bound to no tenant. */
  unboundReader(): Promise<{ role: string; url: string }>;
  drop(): Promise<void>;
}

/**
 * A fresh database with its own owner/reader/edge/router/shipper roles (random names, cluster-wide, so
 * they are dropped afterwards), migrated and granted exactly as the AuditStore component
 * would do it: roles first, migrations as the owner, then requiredGrants().
 */
export async function createAuditDb(baseUrl: string = requirePgUrl(), options: { migrate?: boolean } = {}): Promise<TestAuditDb> {
  const id = randomBytes(5).toString("hex");
  const database = `octw_audit_test_${id}`;
  const roles: AuditRoles = { owner: `octw_${id}_owner`, reader: `octw_${id}_reader`, edge: `octw_${id}_edge`, router: `octw_${id}_router`, shipper: `octw_${id}_shipper`, waker: `octw_${id}_waker` };
  const pw = () => randomBytes(18).toString("hex");
  const ownerPw = pw();
  const servicePw = { edge: pw(), router: pw(), shipper: pw(), waker: pw() };
  const extraRoles: string[] = [];
  const superUrl = urlFor(baseUrl, decodeURIComponent(new URL(baseUrl).username), decodeURIComponent(new URL(baseUrl).password), database);
  await withClient(baseUrl, async (c) => {
    await c.query(`CREATE ROLE ${quoteIdent(roles.owner)} LOGIN PASSWORD ${quoteLiteral(ownerPw)}`);
    for (const k of SERVICE_ROLES) await c.query(`CREATE ROLE ${quoteIdent(roles[k])} LOGIN PASSWORD ${quoteLiteral(servicePw[k])}`);
    await c.query(`CREATE ROLE ${quoteIdent(roles.reader)} NOLOGIN`);
    await c.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(roles.owner)} ENCODING 'UTF8' TEMPLATE template0`);
  });
  const ownerUrl = urlFor(baseUrl, roles.owner, ownerPw, database);
  const serviceUrl = (k: (typeof SERVICE_ROLES)[number]) => urlFor(baseUrl, roles[k], servicePw[k], database);
  if (options.migrate !== false) {
    await withClient(ownerUrl, async (c) => {
      await applyMigrations(c, roles);
      await applyGrants(c, requiredGrants(roles), database);
    });
  }
  const newReader = async (): Promise<{ role: string; url: string }> => {
    const role = `octw_${id}_r${extraRoles.length}`;
    const password = pw();
    await withClient(baseUrl, (c) => c.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)} IN ROLE ${quoteIdent(roles.reader)}`));
    extraRoles.push(role);
    return { role, url: urlFor(baseUrl, role, password, database) };
  };
  return {
    database,
    roles,
    superUrl,
    ownerUrl,
    edgeUrl: serviceUrl("edge"),
    routerUrl: serviceUrl("router"),
    shipperUrl: serviceUrl("shipper"),
    wakerUrl: serviceUrl("waker"),
    async tenantReader(tenant: string) {
      const r = await newReader();
      await withClient(ownerUrl, (c) => bindTenantReader(c, r.role, tenant));
      return r;
    },
    unboundReader: newReader,
    async drop() {
      await withClient(baseUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
        for (const r of [...extraRoles, roles.reader, ...SERVICE_ROLES.map((k) => roles[k]), roles.owner]) await c.query(`DROP ROLE IF EXISTS ${quoteIdent(r)}`);
      });
    },
  };
}
