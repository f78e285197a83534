import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditClient, quoteIdent, verifyAuditChain } from "../src/index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

describe("row-level security: a tenant reader sees only its tenant", () => {
  let db: TestAuditDb;
  let dir: string;
  let readerA: { role: string; url: string };
  let readerB: { role: string; url: string };

  beforeAll(async () => {
    db = await createAuditDb(requirePgUrl());
    dir = await mkdtemp(join(tmpdir(), "octw-rls-"));
    const edge = new AuditClient({ connection: db.edgeUrl, spoolPath: join(dir, "edge-spool") });
    const shipper = new AuditClient({ connection: db.shipperUrl, spoolPath: join(dir, "shipper-spool") });
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => edge.record({ tenant: "tenant-a", actor: "u-a", action: "edge.auth.allowed", details: { i } })),
      ...Array.from({ length: 7 }, (_, i) => shipper.record({ tenant: "tenant-b", actor: "u-b", action: "egress.denied", target: "evil.example", details: { i } })),
    ]);
    await Promise.all([edge.close(), shipper.close()]);
    readerA = await db.tenantReader("tenant-a");
    readerB = await db.tenantReader("tenant-b");
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tenantsSeen = (url: string) =>
    withClient(url, async (c) => {
      const { rows } = await c.query<{ tenant: string; n: string }>("SELECT tenant, count(*)::text AS n FROM octw.audit_events GROUP BY tenant ORDER BY tenant");
      return rows;
    });

  it("the owner sees both tenants (positive control)", async () => {
    expect(await tenantsSeen(db.ownerUrl)).toEqual([{ tenant: "tenant-a", n: "5" }, { tenant: "tenant-b", n: "7" }]);
  });

  it("reader A sees only A, reader B only B", async () => {
    expect(await tenantsSeen(readerA.url)).toEqual([{ tenant: "tenant-a", n: "5" }]);
    expect(await tenantsSeen(readerB.url)).toEqual([{ tenant: "tenant-b", n: "7" }]);
  });

  it("asking for B by name, or changing session settings, does not help reader A", async () => {
    await withClient(readerA.url, async (c) => {
      expect((await c.query("SELECT * FROM octw.audit_events WHERE tenant = 'tenant-b'")).rows).toEqual([]);
      await c.query("SELECT set_config('octw.tenant', 'tenant-b', false)");
      expect((await c.query("SELECT * FROM octw.audit_events WHERE tenant = 'tenant-b'")).rows).toEqual([]);
      expect((await c.query("SELECT tenant FROM octw.reader_bindings")).rows).toEqual([{ tenant: "tenant-a" }]);
      expect((await c.query("SELECT tenant FROM octw.audit_heads")).rows).toEqual([{ tenant: "tenant-a" }]);
    });
  });

  it("reader A cannot become reader B, rebind itself, or write", async () => {
    await withClient(readerA.url, async (c) => {
      await expect(c.query(`SET ROLE ${quoteIdent(readerB.role)}`)).rejects.toThrow(/permission denied to set role/);
      await expect(c.query(`SELECT octw.bind_tenant_reader(current_user, 'tenant-b')`)).rejects.toMatchObject({ code: "42501" });
      await expect(c.query(`INSERT INTO octw.reader_bindings VALUES (current_user, 'tenant-b')`)).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("SELECT octw.append_events('[]'::jsonb)")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("SELECT * FROM octw.tenant_secrets")).rejects.toMatchObject({ code: "42501" });
      // Falling back to the group role gives nothing at all.
      await c.query(`SET ROLE ${quoteIdent(db.roles.reader)}`);
      expect((await c.query("SELECT * FROM octw.audit_events")).rows).toEqual([]);
    });
  });

  it("a reader bound to no tenant sees nothing", async () => {
    const unbound = await db.unboundReader();
    expect(await tenantsSeen(unbound.url)).toEqual([]);
  });

  it("a role that bypasses RLS cannot be bound as a tenant reader", async () => {
    const r = await db.unboundReader();
    await withClient(requirePgUrl(), (c) => c.query(`ALTER ROLE ${quoteIdent(r.role)} BYPASSRLS`));
    await withClient(db.ownerUrl, async (c) => {
      await expect(c.query("SELECT octw.bind_tenant_reader($1, 'tenant-a')", [r.role])).rejects.toThrow(/bypasses row-level security/);
    });
  });

  it("a tenant reader can verify its own chain, including the head", async () => {
    await withClient(readerA.url, async (c) => {
      const report = await verifyAuditChain(c);
      expect(report.ok).toBe(true);
      expect(report.tenants).toEqual([{ tenant: "tenant-a", verified: 5, broken: null }]);
    });
  });

  it("an AuditClient given a reader's credentials fails loudly instead of spooling forever", async () => {
    const client = new AuditClient({ connection: readerA.url, spoolPath: join(dir, "reader-spool") });
    await expect(client.record({ tenant: "tenant-a", actor: "x", action: "edge.auth.allowed" })).rejects.toMatchObject({ code: "42501" });
    expect(client.stats()).toMatchObject({ spooled: 0, direct: 0 });
    await client.close();
  });
});
