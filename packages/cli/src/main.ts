import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import { registerApprovalsCommands } from "./commands/approvals";
import { registerAuditCommands } from "./commands/audit";
import { registerBackupCommands, registerTenantCommands } from "./commands/backup";
import { registerSecretsCommands } from "./commands/secrets";
import { registerTokenCommand } from "./commands/token";

/**
 * The `octw` command. This file is only the registry: each command group lives in
 * commands/<group>.ts and exports one register function; add a group with one line below.
 */
const commandGroups: ((program: Command) => void)[] = [
  registerAuditCommands,
  registerSecretsCommands,
  registerTokenCommand,
  registerApprovalsCommands,
  registerBackupCommands,
  registerTenantCommands,
];

export function buildProgram(): Command {
  const program = new Command("octw")
    .description("Operate an OCTW platform: audit trail, tenant secrets, dev tokens, backups, tenant moves")
    .showHelpAfterError()
    .exitOverride();
  for (const register of commandGroups) register(program);
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so it can be driven from tests. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`octw: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

// Run when executed directly (`tsx packages/cli/src/main.ts …`), not when imported.
const invoked = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : "";
if (import.meta.url === invoked) {
  process.exitCode = await run(process.argv);
}
