// `octw token --tenant t --role r [--sub s] [--ttl 15m]`: mints a short-lived token from the
// local stack's dev issuer (`.octw/dev-issuer/`, created on first use) and prints it. The
// local edge trusts that issuer's public key; nothing else should.
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { ensureDevIssuer, mintDevToken, parseTtl } from "@octw/edge";

export interface TokenOptions {
  tenant: string;
  role: string;
  sub?: string;
  ttl: string;
  dir: string;
}

export const DEFAULT_DEV_ISSUER_DIR = path.join(".octw", "dev-issuer");

export async function runToken(opts: TokenOptions): Promise<string> {
  const keys = await ensureDevIssuer(path.resolve(opts.dir));
  return mintDevToken(keys, {
    tenant: opts.tenant,
    role: opts.role,
    sub: opts.sub ?? `${os.userInfo().username}@localhost`,
    ttlSec: parseTtl(opts.ttl),
  });
}

export function registerTokenCommand(program: Command): Command {
  return program
    .command("token")
    .description("mint a short-lived token for the local edge from the dev issuer (.octw/dev-issuer)")
    .requiredOption("--tenant <id>", "tenant the token is for")
    .requiredOption("--role <role>", "viewer | member | admin")
    .option("--sub <subject>", "subject (user id); default <login>@localhost")
    .option("--ttl <duration>", "lifetime: seconds, or 90s / 15m / 1h (at most 1h)", "15m")
    .option("--dir <path>", "dev issuer directory", DEFAULT_DEV_ISSUER_DIR)
    .action(async (opts: TokenOptions) => {
      process.stdout.write(`${await runToken(opts)}\n`);
    });
}
