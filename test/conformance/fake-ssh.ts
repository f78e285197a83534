// A stand-in `ssh` for tests of ssh:// engine endpoints: no sshd here and no remote host. Put first
// on PATH, it records each session's arguments (one line per session, appended to `sessions`),
// drops the options, "--" and user@host, and runs the remote command here — so a request really
// travels through `docker system dial-stdio` to this machine's engine. While a file `fail` exists
// in its directory it behaves as a client that cannot connect (exit 255).
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface FakeSsh {
  dir: string;
  /** Each session's arguments, one string per session, in order. */
  sessions(): string[];
  /** Makes every following session fail to connect until `restore()`. */
  failConnect(): void;
  restore(): void;
  /** Restores PATH and removes the directory. */
  remove(): void;
}

export function installFakeSsh(): FakeSsh {
  const dir = mkdtempSync(path.join(tmpdir(), "octw-fake-ssh-"));
  writeFileSync(
    path.join(dir, "ssh"),
    [
      "#!/bin/sh",
      `printf '%s\\n' "$*" >> "${dir}/sessions"`,
      `[ -e "${dir}/fail" ] && { echo "ssh: connect to host: Connection refused" >&2; exit 255; }`,
      'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done',
      "shift 2",
      'exec "$@"',
      "",
    ].join("\n"),
  );
  chmodSync(path.join(dir, "ssh"), 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = `${dir}:${savedPath ?? ""}`;
  const sessionsFile = path.join(dir, "sessions");
  return {
    dir,
    sessions: () => (existsSync(sessionsFile) ? readFileSync(sessionsFile, "utf8").trim().split("\n") : []),
    failConnect: () => writeFileSync(path.join(dir, "fail"), ""),
    restore: () => rmSync(path.join(dir, "fail"), { force: true }),
    remove: () => {
      process.env.PATH = savedPath;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
