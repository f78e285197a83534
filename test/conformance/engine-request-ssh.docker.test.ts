// The ssh:// transport of the dynamic resources' engine requests (engineRequest): the ssh client
// runs `docker system dial-stdio` on the host, as pulumi-docker does for an ssh:// provider. No
// sshd here and no remote host: a stand-in `ssh` first on PATH records its arguments and runs the
// remote command locally, so the request really travels through dial-stdio to this engine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { engineRequest } from "../../packages/pulumi/src/components/engine-request";
import { engine } from "./env";

let dir: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  await engine(); // the engine answers (a failure, never a skip)
  dir = mkdtempSync(path.join(tmpdir(), "octw-fake-ssh-"));
  writeFileSync(
    path.join(dir, "ssh"),
    [
      "#!/bin/sh",
      '# stand-in ssh: record the arguments, drop the options, "--" and user@host, run the remote command here',
      `printf '%s\\n' "$@" > "${dir}/args"`,
      `[ -e "${dir}/fail" ] && { echo "ssh: connect to host: Connection refused" >&2; exit 255; }`,
      'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done',
      "shift 2",
      'exec "$@"',
      "",
    ].join("\n"),
  );
  chmodSync(path.join(dir, "ssh"), 0o755);
  process.env.PATH = `${dir}:${savedPath ?? ""}`;
});

afterAll(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

describe("engineRequest over ssh://", () => {
  it("runs docker system dial-stdio through the ssh client with the host's options, and the engine answers", async () => {
    const engineB = { host: "ssh://octw@host-b.example:2222", sshOpts: ["-o", "BatchMode=yes"] };
    const ping = await engineRequest(engineB, "GET", "/_ping", undefined);
    expect(ping).toEqual({ status: 200, text: "OK" });
    expect(readFileSync(path.join(dir, "args"), "utf8").trim().split("\n")).toEqual(["-o", "BatchMode=yes", "-p", "2222", "--", "octw@host-b.example", "docker", "system", "dial-stdio"]);
    // a request with a body travels too (the engine reads and refuses it: the payload arrived)
    const r = await engineRequest(engineB, "POST", "/networks/octw-no-such-network-for-ssh-test/connect", { type: "application/json", data: Buffer.from(JSON.stringify({ Container: "none" })) });
    expect(r.status).toBe(404);
  });

  it("an ssh client that cannot connect fails the request (it does not hang)", async () => {
    writeFileSync(path.join(dir, "fail"), "");
    try {
      await expect(engineRequest({ host: "ssh://octw@host-b.example" }, "GET", "/_ping", undefined)).rejects.toThrow();
    } finally {
      rmSync(path.join(dir, "fail"));
    }
  }, 20_000);
});
