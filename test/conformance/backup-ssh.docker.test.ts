// Backup and restore of a tenant's state volume through an ssh:// host (the CLI's Engine): the ssh
// client runs `docker system dial-stdio` on the host, as pulumi-docker does. No sshd here and no
// remote host: the stand-in ssh of fake-ssh.ts runs the remote command locally, so every request
// — the archive streams included — really travels through dial-stdio to this engine. Controls: the same backup through the unix socket indexes identically; an ssh
// client that cannot connect fails the call instead of hanging.
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type Dockerode from "dockerode";
import { parseKey } from "../../packages/cli/src/backup/backup-key";
import { Engine, EngineError } from "../../packages/cli/src/backup/engine";
import { backupVolume, compareVolumes, indexVolume, restoreVolume } from "../../packages/cli/src/backup/volume";
import { newRunId, RUN_LABEL } from "../realize/index";
import { engine, requireEnv } from "./env";
import { installFakeSsh, type FakeSsh } from "./fake-ssh";

const runId = newRunId();
const dir = mkdtempSync(join(tmpdir(), "octw-backup-ssh-"));
const key = parseKey(randomBytes(32).toString("base64"), "test");
const source = `bs${runId.slice(1)}-t-state`;
const target = `bs${runId.slice(1)}-t-restored`;
let ssh: FakeSsh;
let dk: Dockerode;
let overSsh: Engine;
let overSocket: Engine;

beforeAll(async () => {
  dk = await engine(); // the engine answers (a failure, never a skip)
  ssh = installFakeSsh();
  overSsh = new Engine({ name: "b", url: "ssh://octw@host-b.example:2222", sshOpts: ["-o", "BatchMode=yes"] });
  overSocket = new Engine({ name: "a", url: requireEnv("DOCKER_HOST") });
  // the tenant's volume, with files of several modes and owners and a 3 MiB random file
  await dk.createVolume({ Name: source, Labels: { [RUN_LABEL]: runId } });
  const seed = await dk.createContainer({
    Image: requireEnv("OCTW_IMAGE_BASE"),
    User: "0:0",
    Labels: { [RUN_LABEL]: runId },
    Cmd: ["bash", "-c", "set -e; cd /s; mkdir -p notes; printf marker > notes/m; head -c 3145728 /dev/urandom > big.bin; ln -s notes/m link; chown -R 4242:4242 /s; chmod 0400 notes/m; chmod 2750 notes"],
    HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: source, Target: "/s" }] },
  });
  await seed.start();
  expect(((await seed.wait()) as { StatusCode: number }).StatusCode).toBe(0);
  await seed.remove();
}, 120_000);

afterAll(async () => {
  ssh?.remove();
  for (const v of [source, target]) await dk?.getVolume(v).remove().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe("backup and restore through an ssh:// host", () => {
  it("backs up through dial-stdio (one ssh session per request, with the host's options) and indexes as through the socket", async () => {
    const file = join(dir, "t.octwbak");
    const { manifest, entries } = await backupVolume({ engine: overSsh, volume: source, tenant: "t", file, key });
    expect(manifest.sourceHost).toBe("b");
    expect(entries.map((e) => e.path)).toEqual(expect.arrayContaining(["big.bin", "link", "notes", "notes/m"]));
    const sessions = ssh.sessions();
    // several requests (volume, helper container, archive, removal), each its own session
    expect(sessions.length).toBeGreaterThan(3);
    for (const s of sessions) expect(s).toBe("-o BatchMode=yes -p 2222 -- octw@host-b.example docker system dial-stdio");
    // control: the same volume through the unix socket indexes the same
    expect(await indexVolume(overSocket, source)).toEqual(await indexVolume(overSsh, source));
  }, 120_000);

  it("restores through ssh into another volume, equal to the source in every entry", async () => {
    const r = await restoreVolume({ engine: overSsh, volume: target, file: join(dir, "t.octwbak"), key });
    expect(r.created).toBe(true);
    expect(await compareVolumes({ engine: overSocket, volume: source }, { engine: overSsh, volume: target })).toBeUndefined();
    // the same through the socket on both sides
    expect(await compareVolumes({ engine: overSocket, volume: source }, { engine: overSocket, volume: target })).toBeUndefined();
    // control: the comparison sees a difference when there is one
    const c = await dk.createContainer({ Image: requireEnv("OCTW_IMAGE_BASE"), User: "0:0", Labels: { [RUN_LABEL]: runId }, Cmd: ["bash", "-c", "printf x >> /s/notes/m"], HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: target, Target: "/s" }] } });
    await c.start();
    await c.wait();
    await c.remove();
    expect(await compareVolumes({ engine: overSocket, volume: source }, { engine: overSsh, volume: target })).toMatch(/notes\/m/);
  }, 180_000);

  it("an ssh client that cannot connect fails the call with the host's name, never the endpoint, and does not hang", async () => {
    ssh.failConnect();
    try {
      const err = await overSsh.volume(source).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EngineError);
      expect(String(err)).toMatch(/^EngineError: host b: GET \/volumes\/\S+: the ssh client exited \(255\) before the engine answered$/);
      expect(String(err)).not.toContain("host-b.example");
    } finally {
      ssh.restore();
    }
  }, 30_000);
});
