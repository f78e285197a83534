// Migration 4 rewrote two CHECKs of audit_events for speed ({0,127} and {1,200} became an
// uncounted pattern plus a length bound). The rewrite must accept exactly what the original
// accepted: compared in Postgres itself, over generated strings around every edge (length
// bounds, first character, characters just outside the classes, multi-byte text).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "./pg-support";

const ORIGINAL = {
  tenant: `s ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'`,
  key: `s ~ '^[A-Za-z0-9._:-]{1,200}$'`,
};

let db: TestAuditDb;
/** The CHECK expressions as the database has them now, with the column renamed to s. */
const current: { tenant: string; key: string } = { tenant: "", key: "" };

beforeAll(async () => {
  db = await createAuditDb(requirePgUrl());
  await withClient(db.ownerUrl, async (c) => {
    const { rows } = await c.query<{ conname: string; expr: string }>(
      `SELECT conname, pg_get_expr(conbin, conrelid) AS expr FROM pg_constraint
        WHERE conrelid = 'octw.audit_events'::regclass AND conname IN ('audit_events_tenant_check', 'audit_events_idempotency_key_check')`,
    );
    for (const r of rows) {
      if (r.conname === "audit_events_tenant_check") current.tenant = r.expr.replace(/\btenant\b/g, "s");
      else current.key = r.expr.replace(/\bidempotency_key\b/g, "s");
    }
  });
});
afterAll(async () => {
  await db?.drop();
});

// Characters of the classes, their neighbours in ASCII, and some that are not ASCII at all.
const chars = fc.constantFrom(..."aZ09._:-", "/", ";", "@", "[", "`", "{", " ", "\n", "+", "ü", "ß", "K", "\u212a", "😀");
const around = (n: number) => fc.integer({ min: Math.max(0, n - 3), max: n + 3 });
const strings = fc.oneof(
  fc.string({ unit: chars, maxLength: 8 }),
  around(128).chain((n) => fc.string({ unit: chars, minLength: n, maxLength: n })),
  around(200).chain((n) => fc.string({ unit: chars, minLength: n, maxLength: n })),
  // Valid-looking ones of every length up to past the bounds, with at most one odd character.
  fc.tuple(fc.integer({ min: 0, max: 205 }), fc.option(chars), fc.nat()).map(([n, odd, at]) => {
    const s = "a".repeat(n).split("");
    if (odd !== null && n > 0) s[at % n] = odd;
    return s.join("");
  }),
);

async function disagreements(batch: string[]): Promise<{ s: string; col: string }[]> {
  return withClient(db.ownerUrl, async (c) => {
    const { rows } = await c.query<{ s: string; col: string }>(
      `SELECT s, col FROM (
         SELECT s, 'tenant' AS col, (${ORIGINAL.tenant}) IS DISTINCT FROM (${current.tenant}) AS differ FROM unnest($1::text[]) s
         UNION ALL
         SELECT s, 'idempotency_key', (${ORIGINAL.key}) IS DISTINCT FROM (${current.key}) FROM unnest($1::text[]) s) x
        WHERE differ`,
      [batch],
    );
    return rows;
  });
}

describe("the audit_events CHECKs of migration 4", () => {
  it("are the rewritten ones (so the comparison below compares something)", () => {
    expect(current.tenant).toMatch(/length\(s\) <= 128/);
    expect(current.key).toMatch(/length\(s\) <= 200/);
    expect(current.tenant).not.toMatch(/\{0,127\}/);
  });

  it("accept exactly what the original CHECKs accepted", async () => {
    // Positive control: both outcomes occur, and the comparison notices a rule that differs.
    const edges = ["a", "a".repeat(128), "a".repeat(129), "a".repeat(200), "a".repeat(201), "-a", ".", "", "aü"];
    expect(await disagreements(edges)).toEqual([]);
    await withClient(db.ownerUrl, async (c) => {
      const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM unnest($1::text[]) s WHERE (${ORIGINAL.tenant}) <> (length(s) <= 129 AND s ~ '^[A-Za-z0-9][A-Za-z0-9._:-]*$')`, [edges]);
      expect(rows[0]!.n).toBe(1);
    });
    await fc.assert(
      fc.asyncProperty(fc.array(strings, { minLength: 1, maxLength: 200 }), async (batch) => {
        expect(await disagreements(batch)).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});
