// Runs a command inside a container the way an attacker inside it would: `docker exec` as the
// container's own user (unless told otherwise), collecting exit code, stdout and stderr.
import { PassThrough } from "node:stream";
import type Dockerode from "dockerode";

export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export async function containerUser(docker: Dockerode, id: string): Promise<string> {
  const i = await docker.getContainer(id).inspect();
  return i.Config.User || "0:0";
}

export async function execIn(docker: Dockerode, id: string, cmd: string[], opts: { user?: string; timeoutMs?: number; env?: string[] } = {}): Promise<ExecResult> {
  const user = opts.user ?? (await containerUser(docker, id));
  const ex = await docker.getContainer(id).exec({ Cmd: cmd, User: user, AttachStdout: true, AttachStderr: true, ...(opts.env ? { Env: opts.env } : {}) });
  const stream = await ex.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on("data", (d: Buffer) => o.push(d));
  err.on("data", (d: Buffer) => e.push(d));
  docker.modem.demuxStream(stream, out, err);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      stream.destroy();
      reject(new Error(`exec ${JSON.stringify(cmd).slice(0, 200)} in ${id.slice(0, 12)} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on("end", () => {
      clearTimeout(t);
      resolve();
    });
    stream.on("error", (x: Error) => {
      clearTimeout(t);
      reject(x);
    });
  });
  const info = await ex.inspect();
  return { exitCode: info.ExitCode, stdout: Buffer.concat(o).toString("utf8"), stderr: Buffer.concat(e).toString("utf8") };
}

/** Runs a node script (CommonJS) in the container; the script prints one JSON line. */
export async function nodeProbe<T>(docker: Dockerode, id: string, script: string, args: string[] = [], opts: { user?: string; timeoutMs?: number } = {}): Promise<T> {
  const r = await execIn(docker, id, ["/usr/local/bin/node", "-e", script, "--", ...args], opts);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`node probe printed no JSON (exit ${r.exitCode}): ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
  }
}
