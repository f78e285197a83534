import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { SERVICE_ROLES, applyGrants, applyMigrations, bindTenantReader, exportHeads, readEvents, requiredGrants, verifyAuditChain, type AuditRoles, type ExportedHead, type StoredEvent } from "@octw/audit";
import { databaseUrl, withPool } from "./connection";

interface ConnOpts {
  databaseUrl?: string;
}

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function printEvent(e: StoredEvent): void {
  process.stdout.write(JSON.stringify(e) + "\n");
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit trail");

  audit
    .command("migrate")
    .description("apply pending schema migrations (connect as the owner role); idempotent")
    .requiredOption("--owner <role>", "owner role (the one connecting; also the operator's role for approvals and secrets)")
    .requiredOption("--reader <role>", "reader group role (tenant readers are members)")
    // Checked in the action rather than by commander, so that the retired --writer gets its own message.
    .option("--edge <role>", "the edge's own role (appends edge.* decisions only); required")
    .option("--router <role>", "the inference router's own role (appends inference.call and secret.read; reads tenant_secrets); required")
    .option("--shipper <role>", "the egress-audit shipper's own role (appends egress.denied only); required")
    .option("--waker <role>", "the waker's own role (appends tenant.suspended, tenant.woken, tenant.wake_failed only); required")
    .option("--writer <role>", "retired: the shared writer role was split into --edge, --router and --shipper")
    .option("--apply-grants", "also grant the service and reader roles what requiredGrants() lists")
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: ConnOpts & AuditRoles & { writer?: string; applyGrants?: boolean }) => {
      if (opts.writer !== undefined) throw new Error("--writer: the shared writer role is retired; pass --edge, --router and --shipper (one role per service)");
      for (const k of SERVICE_ROLES) if (opts[k] === undefined) throw new Error(`--${k}: required (the ${k}'s own role)`);
      const roles: AuditRoles = { owner: opts.owner, reader: opts.reader, edge: opts.edge, router: opts.router, shipper: opts.shipper, waker: opts.waker };
      await withPool(databaseUrl(opts.databaseUrl), async (pool) => {
        const client = await pool.connect();
        try {
          const versions = await applyMigrations(client, roles);
          process.stdout.write(`migrations applied: ${versions.join(", ")}\n`);
          if (opts.applyGrants) {
            const { rows } = await client.query<{ db: string }>("SELECT current_database() AS db");
            const grants = requiredGrants(roles);
            await applyGrants(client, grants, rows[0]!.db);
            process.stdout.write(`grants applied: ${grants.length}\n`);
          }
        } finally {
          client.release();
        }
      });
    });

  audit
    .command("bind-reader")
    .description("let a login role (member of the reader role) read exactly one tenant's events")
    .requiredOption("--role <role>", "the tenant's reader login role")
    .requiredOption("--tenant <tenant>", "the tenant it may read")
    .option("--database-url <url>", "Postgres URL of the owner (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: ConnOpts & { role: string; tenant: string }) => {
      await withPool(databaseUrl(opts.databaseUrl), async (pool) => {
        const client = await pool.connect();
        try {
          await bindTenantReader(client, opts.role, opts.tenant);
        } finally {
          client.release();
        }
      });
      process.stdout.write(`role ${opts.role} now reads tenant ${opts.tenant}\n`);
    });

  audit
    .command("tail")
    .description("print the newest events as JSON lines (oldest first)")
    .option("--tenant <tenant>", "only this tenant")
    .option("-n, --limit <n>", "how many", positiveInt("--limit"), 20)
    .option("-f, --follow", "keep printing new events")
    .option("--interval <ms>", "poll interval with --follow", positiveInt("--interval"), 1000)
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: ConnOpts & { tenant?: string; limit: number; follow?: boolean; interval: number }) => {
      await withPool(databaseUrl(opts.databaseUrl), async (pool) => {
        const client = await pool.connect();
        try {
          const first = await readEvents(client, { tenant: opts.tenant, limit: opts.limit });
          first.forEach(printEvent);
          let last = first.at(-1)?.id ?? "0";
          while (opts.follow) {
            await sleep(opts.interval);
            const more = await readEvents(client, { tenant: opts.tenant, limit: 1000, afterId: last });
            more.forEach(printEvent);
            last = more.at(-1)?.id ?? last;
          }
        } finally {
          client.release();
        }
      });
    });

  audit
    .command("verify")
    .description("walk each tenant's hash chain and report the first broken link (exit 1 if any)")
    .option("--tenant <tenant>", "only this tenant")
    .option("--anchors <file>", "JSON file of heads saved earlier by `octw audit heads`; the chains must still run through them")
    .option("--json", "print the report as JSON")
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: ConnOpts & { tenant?: string; json?: boolean; anchors?: string }) => {
      let anchors: ExportedHead[] | undefined;
      if (opts.anchors) {
        const parsed: unknown = JSON.parse(await readFile(opts.anchors, "utf8"));
        if (!Array.isArray(parsed)) throw new Error(`--anchors ${opts.anchors}: must be a JSON array as printed by \`octw audit heads\``);
        anchors = parsed as ExportedHead[];
      }
      const report = await withPool(databaseUrl(opts.databaseUrl), async (pool) => {
        const client = await pool.connect();
        try {
          return await verifyAuditChain(client, { tenant: opts.tenant, anchors });
        } finally {
          client.release();
        }
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      } else {
        for (const t of report.tenants) {
          process.stdout.write(`${t.tenant}: ${t.broken ? "BROKEN" : "ok"} (${t.verified} events verified)\n`);
        }
        if (report.tenants.length === 0) process.stdout.write("no audit events\n");
        const b = report.firstBroken;
        if (b) process.stdout.write(`first broken link: tenant ${b.tenant} seq ${b.seq}${b.id ? ` (id ${b.id})` : ""}: ${b.reason}: ${b.detail}\n`);
      }
      if (!report.ok) process.exitCode = 1;
    });

  audit
    .command("heads")
    .description("print the head (seq, hash) of every chain as JSON: keep it outside the database, verify later with --anchors")
    .option("--tenant <tenant>", "only this tenant")
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: ConnOpts & { tenant?: string }) => {
      const heads = await withPool(databaseUrl(opts.databaseUrl), async (pool) => {
        const client = await pool.connect();
        try {
          return await exportHeads(client, { tenant: opts.tenant });
        } finally {
          client.release();
        }
      });
      process.stdout.write(JSON.stringify(heads, null, 2) + "\n");
    });
}
