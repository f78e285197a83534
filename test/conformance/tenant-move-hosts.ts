// What the tenant-move conformance files share: two real engines (this test's as host "a", a
// second dockerd in a network namespace with TLS as host "b", test/realize/second-engine.ts),
// the CLI's view of them (Engine, a hosts file, a backup key in a 0600 file), a fresh audit
// database, the marker files a state volume is seeded with, and the clean-up of everything
// labelled with the run's id on both engines.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { Engine } from "../../packages/cli/src/backup/engine";
import { parseKey, type BackupKey } from "../../packages/cli/src/backup/backup-key";
import { indexVolume, stateVolumeName } from "../../packages/cli/src/backup/volume";
import type { TarEntry } from "../../packages/cli/src/backup/tar-index";
import { createAuditDb, requirePgUrl, withClient, type TestAuditDb } from "../../packages/audit/test/pg-support";
import { normalizeEvent } from "@octw/audit";
import { newRunId, RUN_LABEL } from "../realize/index";
import { copyImage, startSecondEngine, type SecondEngine } from "../realize/second-engine";
import { engine, requireEnv } from "./env";

export interface MoveRun {
  runId: string;
  /** the platform's Docker name prefix for this run (volumes `<prefix>-<tenant>-state`, …) */
  prefix: string;
  /** journals, archives, the key file, the hosts file, host b's TLS files */
  dir: string;
  keyText: string;
  key: BackupKey;
  keyFile: string;
  hostsFile: string;
  labels: (tenant: string) => Record<string, string>;
  /** measured numbers, printed at the end with the load average */
  report: Record<string, unknown>;
}

/** The run's names and key (synchronous: test files build their constants from it). */
export function moveRun(tag: string): MoveRun {
  const runId = newRunId();
  const dir = mkdtempSync(join(tmpdir(), "octw-move-"));
  const keyText = randomBytes(32).toString("base64");
  return {
    runId, prefix: `${tag}${runId.slice(1)}`, dir, keyText, key: parseKey(keyText, "test"),
    keyFile: join(dir, "backup.key"), hostsFile: join(dir, "hosts.json"),
    labels: (tenant) => ({ [RUN_LABEL]: runId, "octw.tenant": tenant }),
    report: {},
  };
}

export interface MoveHosts {
  /** engine a through dockerode */
  dk: Dockerode;
  sb: SecondEngine;
  A: Engine;
  B: Engine;
  audit: TestAuditDb;
}

/**
 * Starts host b, copies `images` (ids on engine a) to it, creates the audit database with a
 * trail of three events for each of `tenants` (their history before the move), and writes the
 * key and hosts files the CLI reads.
 */
export async function startMoveHosts(run: MoveRun, images: string[], tenants: string[]): Promise<MoveHosts> {
  const dk = await engine();
  let t = Date.now();
  const sb = await startSecondEngine(run.runId);
  run.report.startEngineMs = Date.now() - t;
  t = Date.now();
  for (const image of images) copyImage(image, sb.socket);
  run.report.copyImagesMs = Date.now() - t;
  const audit = await createAuditDb(requirePgUrl());
  await withClient(audit.superUrl, (c) => c.query("SELECT octw.append_events_unchecked($1::jsonb)", [JSON.stringify(tenants.flatMap((tenant) => [1, 2, 3].map((n) => normalizeEvent({ tenant, actor: "edge", action: "edge.auth.allowed", target: `/before/${n}` }))))]));
  writeFileSync(run.keyFile, run.keyText + "\n", { mode: 0o600 });
  for (const f of ["ca", "cert", "key"] as const) writeFileSync(join(run.dir, `b-${f}.pem`), sb.tls[f], { mode: 0o600 });
  writeFileSync(run.hostsFile, JSON.stringify({ hosts: [{ name: "a", endpoint: requireEnv("DOCKER_HOST") }, { name: "b", endpoint: sb.host, tls: { caFile: join(run.dir, "b-ca.pem"), certFile: join(run.dir, "b-cert.pem"), keyFile: join(run.dir, "b-key.pem") } }] }));
  return { dk, sb, audit, A: new Engine({ name: "a", url: requireEnv("DOCKER_HOST") }), B: new Engine({ name: "b", url: sb.host, tls: sb.tls }) };
}

/** Removes the run's containers, volumes and networks on engine a, stops host b (its data root goes with it), drops the audit database; prints the report. */
export async function stopMoveHosts(run: MoveRun, h: Partial<MoveHosts>, title: string): Promise<void> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${run.runId}`] });
  if (h.dk) {
    for (const c of await h.dk.listContainers({ all: true, filters })) await h.dk.getContainer(c.Id).remove({ force: true });
    for (const v of (await h.dk.listVolumes({ filters })).Volumes ?? []) await h.dk.getVolume(v.Name).remove();
    for (const n of await h.dk.listNetworks({ filters })) await h.dk.getNetwork(n.Id).remove();
  }
  await h.sb?.stop();
  await h.audit?.drop();
  rmSync(run.dir, { recursive: true, force: true });
  console.log(`${title}: ${JSON.stringify(run.report)}; load ${readFileSync("/proc/loadavg", "utf8").trim()}`);
}

/**
 * The marker files, in /state: what a state volume holds — modes (setgid, 0400, 0711), owners
 * (the tenant's `$OWNER`, root's, another group), a symlink, a hard link, a long name, an old
 * mtime, a random file of `$BIG` bytes. Run as root.
 */
export const SEED_MARKERS = `set -e
cd /state
mkdir -p notes .octw empty sub/deeper
head -c "$BIG" /dev/urandom > big.bin
printf 'marker-%s\\n' "$TENANT" > notes/m1.txt
head -c 4097 /dev/urandom > notes/m2.bin
printf token > .octw/router-token
ln -s notes/m1.txt link
ln notes/m2.bin hard.bin
printf x > "sub/deeper/$(printf 'n%.0s' $(seq 1 150))"
printf root > root-owned
chown -R "$OWNER:$OWNER" /state
chown 0:0 root-owned
chown "$OWNER:$((OWNER + 1))" notes/m2.bin
chmod 700 /state; chmod 600 notes/m1.txt; chmod 400 .octw/router-token; chmod 2750 sub; chmod 711 empty; chmod 644 root-owned; chmod 640 notes/m2.bin
touch -d '2020-01-02 03:04:05' notes/m1.txt`;

/** Runs `cmd` (bash) as root in a throwaway container of `image` with `volume` at /state, no network. */
export async function runToEnd(d: Dockerode, image: string, cmd: string, volume: string, env: string[], labels: Record<string, string>): Promise<void> {
  const c = await d.createContainer({ Image: image, Entrypoint: ["bash", "-c", cmd], Env: env, User: "0:0", Labels: labels, HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: volume, Target: "/state" }] } });
  try {
    await c.start();
    const r = (await c.wait()) as { StatusCode: number };
    if (r.StatusCode !== 0) throw new Error(`seeding failed: exit ${r.StatusCode}`);
  } finally {
    await c.remove({ force: true });
  }
}

/** The tenant's state volume's index on `e`, without the volume root (its mtime moves with any write) and without `skip`. */
export async function volumeIndex(run: MoveRun, e: Engine, tenant: string, skip: (path: string) => boolean = () => false): Promise<TarEntry[]> {
  return (await indexVolume(e, stateVolumeName(run.prefix, tenant))).filter((x) => x.path !== "" && !skip(x.path));
}
