import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { TenantSecrets, parseKeyring, type MasterKey } from "@octw/audit";
import { cliActor, databaseUrl, directAudit, withPool } from "./connection";

export const KEYRING_ENV = "OCTW_MASTER_KEYRING";


async function loadKeyring(file: string | undefined): Promise<MasterKey[]> {
  if (file) return parseKeyring(await readFile(file, "utf8"), `--keyring-file ${file}`);
  const env = process.env[KEYRING_ENV];
  if (!env) throw new Error(`master keyring: pass --keyring-file or set ${KEYRING_ENV} ("<version>:<base64 32-byte key>", comma-separated)`);
  return parseKeyring(env, KEYRING_ENV);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  let value = Buffer.concat(chunks);
  // `echo value | octw secrets set`: drop the one newline the shell adds.
  if (value.at(-1) === 0x0a) value = value.subarray(0, value.length - 1);
  if (value.at(-1) === 0x0d) value = value.subarray(0, value.length - 1);
  return value;
}

interface Common {
  databaseUrl?: string;
  keyringFile?: string;
}

export function registerSecretsCommands(program: Command): void {
  const secrets = program.command("secrets").description("AES-256-GCM tenant secrets (values are never printed)");

  secrets
    .command("set")
    .description("store a new version of a tenant secret; the value is read from stdin")
    .requiredOption("--tenant <tenant>", "tenant id")
    .requiredOption("--name <name>", "secret name, e.g. openai/api-key")
    .option("--keyring-file <path>", `master keyring file (default: $${KEYRING_ENV})`)
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: Common & { tenant: string; name: string }) => {
      const keyring = await loadKeyring(opts.keyringFile);
      const value = await readStdin();
      if (value.length === 0) throw new Error("value: stdin was empty; pipe the secret value into this command");
      const result = await withPool(databaseUrl(opts.databaseUrl), (pool) =>
        new TenantSecrets({ db: pool, keyring, audit: directAudit(pool), actor: cliActor() }).set(opts.tenant, opts.name, value),
      );
      value.fill(0);
      process.stdout.write(`stored ${opts.tenant}/${opts.name} version ${result.version} (master key version ${result.keyVersion})\n`);
    });

  secrets
    .command("list")
    .description("list secrets (names, versions, key versions, times; never values)")
    .option("--tenant <tenant>", "only this tenant")
    .option("--json", "print JSON")
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: Common & { tenant?: string; json?: boolean }) => {
      // Listing needs no key: it never opens a secret.
      const list = await withPool(databaseUrl(opts.databaseUrl), (pool) =>
        new TenantSecrets({ db: pool, keyring: [{ version: 1, key: Buffer.alloc(32) }] }).list(opts.tenant),
      );
      if (opts.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        return;
      }
      process.stdout.write("TENANT\tNAME\tVERSION\tKEY_VERSION\tCREATED\tROTATED\n");
      for (const s of list) {
        process.stdout.write(`${s.tenant}\t${s.name}\t${s.version}\t${s.keyVersion}\t${s.createdAt.toISOString()}\t${s.rotatedAt?.toISOString() ?? "-"}\n`);
      }
    });

  secrets
    .command("rotate")
    .description("re-wrap every secret under the newest master key of the keyring (keep the old key in it until done)")
    .option("--keyring-file <path>", `master keyring file (default: $${KEYRING_ENV})`)
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: Common) => {
      const keyring = await loadKeyring(opts.keyringFile);
      const result = await withPool(databaseUrl(opts.databaseUrl), async (pool) => {
        const s = new TenantSecrets({ db: pool, keyring, audit: directAudit(pool), actor: cliActor() });
        return { ...(await s.rotateMasterKey()), target: s.currentKeyVersion };
      });
      process.stdout.write(`re-wrapped ${result.rewrapped} secret version(s) under master key version ${result.target}\n`);
      for (const f of result.failed) process.stdout.write(`NOT re-wrapped ${f.tenant}/${f.name} v${f.version}: ${f.reason}\n`);
      if (result.failed.length > 0) process.exitCode = 1;
    });
}
