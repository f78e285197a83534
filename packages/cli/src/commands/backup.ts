import type { Command } from "commander";
import { loadKey, writeNewKey } from "../backup/backup-key";
import { backupAuditDb, restoreAuditDb } from "../backup/audit-db";
import { readManifest } from "../backup/archive-file";
import { hostEngine, loadHosts } from "../backup/hosts-file";
import { DEFAULT_STOP_GRACE_S, MOVE_STEPS, MoveStopped, moveTenant, rollbackMove, stopGraceArg, switchCommand, type MoveStep } from "../backup/move";
import { backupVolume, restoreVolume, stateVolumeName } from "../backup/volume";
import { cliActor, DATABASE_URL_ENV, databaseUrl, directAudit, withPool } from "./connection";

interface KeyOpts {
  keyFile?: string;
  keyEnv?: string;
}
interface HostOpts {
  hosts?: string;
  host: string;
  prefix: string;
}

const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;
function tenantArg(id: string): string {
  if (!TENANT.test(id)) throw new Error("<tenant>: must be a tenant id (a-z, 0-9, -)");
  return id;
}

const keyOptions = (c: Command) =>
  c
    .option("--key-file <file>", "file holding the 32-byte backup key (hex or base64; mode 600)")
    .option("--key-env <name>", "environment variable holding the key (default: OCTW_BACKUP_KEY)");
const hostOptions = (c: Command) =>
  c
    .option("--hosts <file>", "JSON file naming the platform's hosts and their engines (default: $OCTW_HOSTS_FILE; without: one host \"local\", $DOCKER_HOST)")
    .option("--prefix <prefix>", "the platform's Docker name prefix (config `prefix`)", "octw");

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export function registerBackupCommands(program: Command): void {
  const backup = program.command("backup").description("encrypted, checksummed backups of a tenant's state volume or of the audit database");
  const restore = program.command("restore").description("restore what `octw backup` wrote (verified before anything is written)");

  backup
    .command("keygen")
    .description("write a new random backup key to a file (mode 600; keep it apart from the backups)")
    .requiredOption("--out <file>", "where (must not exist)")
    .action((opts: { out: string }) => {
      writeNewKey(opts.out);
      process.stdout.write(`new backup key written to ${opts.out}\n`);
    });

  keyOptions(hostOptions(backup.command("tenant <tenant>").description("back up a tenant's state volume through its host's Engine API")))
    .requiredOption("--out <file>", "archive to write (the manifest goes to <file>.manifest.json)")
    .option("--host <name>", "the tenant's host", "local")
    .action(async (id: string, opts: HostOpts & KeyOpts & { out: string }) => {
      const tenant = tenantArg(id);
      const key = loadKey(opts);
      const engine = hostEngine(loadHosts(opts.hosts), opts.host, "--host");
      const t = Date.now();
      const b = await backupVolume({ engine, volume: stateVolumeName(opts.prefix, tenant), tenant, file: opts.out, key });
      process.stdout.write(`backed up ${b.manifest.volume} of host ${opts.host}: ${b.entries.length} entries, ${mb(b.manifest.plaintextBytes)}, sha256 ${b.manifest.plaintextSha256}, in ${Date.now() - t} ms\n`);
    });

  keyOptions(hostOptions(restore.command("tenant <tenant>").description("restore a tenant's state volume onto a host (refuses a non-empty volume without --replace)")))
    .requiredOption("--from-file <file>", "archive written by `octw backup tenant`")
    .option("--host <name>", "the host to restore onto", "local")
    .option("--replace", "remove the target volume's content first (it must not be in use)")
    .action(async (id: string, opts: HostOpts & KeyOpts & { fromFile: string; replace?: boolean }) => {
      const tenant = tenantArg(id);
      const key = loadKey(opts);
      const m = await readManifest(opts.fromFile, key, "tenant-volume");
      if (m.tenant !== tenant) throw new Error("<tenant>: the archive is another tenant's backup");
      const engine = hostEngine(loadHosts(opts.hosts), opts.host, "--host");
      const t = Date.now();
      const r = await restoreVolume({ engine, volume: stateVolumeName(opts.prefix, tenant), file: opts.fromFile, key, replace: opts.replace === true });
      process.stdout.write(`restored ${r.entries} entries (${mb(r.manifest.plaintextBytes)}) into ${stateVolumeName(opts.prefix, tenant)} on host ${opts.host}${r.replaced ? " (replaced its content)" : ""}; verified, in ${Date.now() - t} ms\n`);
    });

  keyOptions(backup.command("audit").description("back up the audit database (connect as its owner): rows and chain heads of one snapshot"))
    .requiredOption("--out <file>", "archive to write (the manifest goes to <file>.manifest.json)")
    .option("--database-url <url>", "Postgres URL of the owner (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: KeyOpts & { out: string; databaseUrl?: string }) => {
      const key = loadKey(opts);
      const m = await withPool(databaseUrl(opts.databaseUrl), (pool) => backupAuditDb({ pool, file: opts.out, key }));
      process.stdout.write(`backed up the audit database: ${m.heads?.length ?? 0} chains, ${mb(m.plaintextBytes)}, sha256 ${m.plaintextSha256}\n`);
    });

  keyOptions(restore.command("audit").description("restore the audit database into a freshly migrated one (`octw audit migrate --apply-grants` first); commits only if every chain verifies"))
    .requiredOption("--from-file <file>", "archive written by `octw backup audit`")
    .option("--database-url <url>", "Postgres URL of the target's owner (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: KeyOpts & { fromFile: string; databaseUrl?: string }) => {
      const key = loadKey(opts);
      const r = await withPool(databaseUrl(opts.databaseUrl), (pool) => restoreAuditDb({ pool, file: opts.fromFile, key }));
      process.stdout.write(`restored the audit database: ${r.events} events of ${r.tenants} tenants, every chain verified to its recorded head (${Object.entries(r.rows).map(([t, n]) => `${t} ${n}`).join(", ")})\n`);
    });
}

export function registerTenantCommands(program: Command): void {
  const tenant = program.command("tenant").description("a tenant's placement");
  keyOptions(hostOptions(tenant.command("move <tenant>").description("move a tenant's state to another host: quiesce, back up, restore, verify, switch the placement, verify, remove the old copy (journaled: rerun to resume)")))
    .requiredOption("--to <host>", "the host to move to")
    .option("--from <host>", "the tenant's current host (default: the one host holding its state volume)")
    .option("--journal-dir <dir>", "where the move's journal and archive are kept", "octw-moves")
    .option("--stack-file <path>", "the stack config file (e.g. stacks/Pulumi.<stack>.yaml): the switch writes the tenant's pin there (only that line changes)")
    .option("--switch-command <cmd>", "run this to switch the placement (e.g. your pin change and `pulumi up --yes`); without it the move stops there and says what to change")
    .option("--stop-after <step>", `stop after this step (${MOVE_STEPS.join(", ")})`)
    .option("--stop-grace <seconds>", "seconds the gateway gets to finish a running agent turn when the move stops it; then it is killed and that turn's client gets an error", String(DEFAULT_STOP_GRACE_S))
    .option("--rollback", "undo an unfinished move (before the switch; after it, set the pin back and `pulumi up` first)")
    .option("--database-url <url>", "the audit store as its owner: the move is recorded in the tenant's chain (default: $OCTW_AUDIT_DATABASE_URL; without: not recorded, said so)")
    .action(async (id: string, opts: Omit<HostOpts, "host"> & KeyOpts & { to: string; from?: string; journalDir: string; switchCommand?: string; stackFile?: string; stopAfter?: string; stopGrace: string; rollback?: boolean; databaseUrl?: string }) => {
      const t = tenantArg(id);
      const stopGraceS = stopGraceArg(opts.stopGrace);
      const hosts = loadHosts(opts.hosts);
      const to = hostEngine(hosts, opts.to, "--to");
      let fromName = opts.from;
      if (fromName === undefined) {
        const holding: string[] = [];
        for (const [name, e] of hosts) if (name !== opts.to && (await e.volume(stateVolumeName(opts.prefix, t)))) holding.push(name);
        if (holding.length !== 1) throw new Error(`--from: pass the tenant's host (${holding.length === 0 ? "no other host holds its state volume" : `hosts ${holding.join(", ")} hold one`})`);
        fromName = holding[0]!;
      }
      const from = hostEngine(hosts, fromName, "--from");
      const log = (l: string) => process.stdout.write(`${l}\n`);
      if (opts.databaseUrl === undefined && !process.env[DATABASE_URL_ENV]) log(`note: the move is not recorded in the audit trail (pass --database-url or set ${DATABASE_URL_ENV})`);
      const withAudit = <T>(fn: (audit?: ReturnType<typeof directAudit>) => Promise<T>): Promise<T> =>
        opts.databaseUrl === undefined && !process.env[DATABASE_URL_ENV] ? fn() : withPool(databaseUrl(opts.databaseUrl), (pool) => fn(directAudit(pool)));
      const actor = cliActor();
      if (opts.rollback) {
        await withAudit((audit) => rollbackMove({ tenant: t, from, to, dir: opts.journalDir, log, actor, ...(audit ? { audit } : {}) }));
        log(`move of ${t} rolled back: its state is on host ${fromName}`);
        return;
      }
      if (opts.stopAfter !== undefined && !(MOVE_STEPS as readonly string[]).includes(opts.stopAfter)) throw new Error(`--stop-after: must be one of ${MOVE_STEPS.join(", ")}`);
      try {
        const key = loadKey(opts);
        const j = await withAudit((audit) => moveTenant({
          tenant: t, from, to, prefix: opts.prefix, key, dir: opts.journalDir, log, actor, stopGraceS, ...(audit ? { audit } : {}),
          ...(opts.switchCommand ? { switchPlacement: switchCommand(opts.switchCommand) } : {}),
          ...(opts.stopAfter ? { stopAfter: opts.stopAfter as MoveStep } : {}),
          ...(opts.stackFile ? { stackFile: opts.stackFile } : {}),
        }));
        const downtime = j.quiescedAt && j.servingAt ? Date.parse(j.servingAt) - Date.parse(j.quiescedAt) : undefined;
        log(`moved ${t} from ${j.from} to ${j.to}: ${j.entries ?? "?"} entries, ${mb(j.bytes ?? 0)}; downtime ${downtime ?? "?"} ms; archive kept at ${j.archive}`);
      } catch (e) {
        if (e instanceof MoveStopped) {
          log(e.message);
          process.exitCode = 3;
          return;
        }
        throw e;
      }
    });
}
