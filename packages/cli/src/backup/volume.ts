// A tenant's state volume, backed up and restored through the Engine API only. The volume is
// mounted (read-only for a backup) into a helper container that is created and never started —
// no process ever runs beside the data, it has no network and no capabilities — and the
// engine's archive endpoint reads or writes it as a tar, ownership and modes included. The
// helper's image is an empty root file system imported locally (POST /images/create?fromSrc=-):
// nothing is pulled, nothing of a tenant's image is trusted.
import type { BackupKey } from "./backup-key";
import { decryptArchive, readManifest, RestoreRefused, writeArchive, type Manifest } from "./archive-file";
import { EngineError, type Engine } from "./engine";
import { firstDifference, indexDigest, TarIndexer, type TarEntry } from "./tar-index";

export const HELPER_IMAGE = "octw-backup-helper:empty";
/** Where the helper mounts the volume; the archive's paths start with it. */
const MOUNT = "/octw-volume";
const HELPER_LABELS = { "octw.component": "backup-helper", "octw.managed-by": "octw-cli" };

/** The state volume's Docker name (TenantGateway: `<prefix>-<tenant>-state`). */
export const stateVolumeName = (prefix: string, tenant: string) => `${prefix}-${tenant}-state`;
export const gatewayName = (prefix: string, tenant: string) => `${prefix}-${tenant}-gateway`;

export async function ensureHelperImage(engine: Engine): Promise<void> {
  try {
    await engine.call("GET", `/images/${encodeURIComponent(HELPER_IMAGE)}/json`);
    return;
  } catch (e) {
    if (!(e instanceof EngineError && e.status === 404)) throw e;
  }
  // an empty tar: two zero blocks
  const [repo, tag] = HELPER_IMAGE.split(":");
  await engine.call("POST", `/images/create?fromSrc=-&repo=${repo}&tag=${tag}`, undefined, { type: "application/x-tar", data: Buffer.alloc(1024) });
}

async function withHelper<T>(engine: Engine, volume: string, writable: boolean, fn: (id: string) => Promise<T>): Promise<T> {
  await ensureHelperImage(engine);
  const id = await engine.helper(HELPER_IMAGE, volume, MOUNT, writable, HELPER_LABELS);
  try {
    return await fn(id);
  } finally {
    await engine.remove(id);
  }
}

/** The volume's content index (paths relative to the volume root; "" is the root itself). */
export async function indexVolume(engine: Engine, volume: string): Promise<TarEntry[]> {
  return withHelper(engine, volume, false, async (id) => {
    const ix = new TarIndexer();
    for await (const c of await engine.getArchive(id, MOUNT)) ix.write(c as Buffer);
    return relative(ix.finish());
  });
}

function relative(entries: TarEntry[]): TarEntry[] {
  const root = MOUNT.slice(1);
  return entries.map((e) => ({ ...e, path: e.path === root ? "" : e.path.startsWith(`${root}/`) ? e.path.slice(root.length + 1) : e.path }));
}

export interface VolumeBackup {
  manifest: Manifest;
  entries: TarEntry[];
}

/** Archives `volume` of `engine` into `file` (+ manifest). The volume must exist. */
export async function backupVolume(opts: { engine: Engine; volume: string; tenant: string; file: string; key: BackupKey }): Promise<VolumeBackup> {
  const { engine, volume } = opts;
  const info = await engine.volume(volume);
  if (!info) throw new Error(`host ${engine.endpoint.name}: volume ${volume} does not exist`);
  return withHelper(engine, volume, false, async (id) => {
    const ix = new TarIndexer();
    const tar = await engine.getArchive(id, MOUNT);
    let entries: TarEntry[] = [];
    const manifest = await writeArchive(
      opts.file,
      opts.key,
      { kind: "tenant-volume", tenant: opts.tenant, sourceHost: engine.endpoint.name, volume, volumeLabels: info.Labels ?? {} },
      tar,
      () => {
        entries = relative(ix.finish());
        return { contentDigest: indexDigest(entries) };
      },
      (c) => ix.write(c),
    );
    return { manifest, entries };
  });
}

/** Whether the volume holds anything but its (empty) root directory. */
export async function volumeIsEmpty(engine: Engine, volume: string): Promise<boolean> {
  return (await indexVolume(engine, volume)).every((e) => e.path === "");
}

export interface RestoreResult {
  manifest: Manifest;
  created: boolean;
  replaced: boolean;
  entries: number;
}

/**
 * Restores `file` into `volume` on `engine`. Refuses (RestoreRefused) a wrong key, a changed
 * manifest or archive, a checksum mismatch — all found before the target is touched — and a
 * target volume that holds data unless `replace` (then it is removed and created afresh:
 * extracting over old data would merge, not restore). Verifies the result by its content index.
 */
export async function restoreVolume(opts: { engine: Engine; volume?: string; file: string; key: BackupKey; replace?: boolean }): Promise<RestoreResult> {
  const { engine, key, file } = opts;
  const manifest = await readManifest(file, key, "tenant-volume");
  const volume = opts.volume ?? manifest.volume!;
  // pass 1: authenticate everything and check the checksum before writing a byte
  await decryptArchive(file, key, manifest);

  let created = false;
  let replaced = false;
  const existing = await engine.volume(volume);
  if (existing && !(await volumeIsEmpty(engine, volume))) {
    if (!opts.replace) throw new RestoreRefused("target-not-empty", `host ${engine.endpoint.name}: volume ${volume} is not empty; pass --replace to remove its content first`);
    const users = await engine.containersUsing(volume);
    if (users.length) throw new Error(`host ${engine.endpoint.name}: volume ${volume} is used by container(s) ${users.map((u) => u.Names[0] ?? u.Id.slice(0, 12)).join(", ")}: stop and remove them first`);
    await engine.removeVolume(volume);
    replaced = true;
  }
  if (!existing || replaced) {
    await engine.createVolume(volume, manifest.volumeLabels ?? {});
    created = true;
  }
  // pass 2: into the volume; a failure now leaves unauthenticated bytes there: wipe them
  try {
    await withHelper(engine, volume, true, (id) => decryptArchive(file, key, manifest, (plain) => engine.putArchive(id, "/", plain)));
  } catch (e) {
    await wipe(engine, volume, manifest);
    throw e;
  }
  const entries = await verifyVolume(engine, volume, manifest);
  return { manifest, created, replaced, entries };
}

async function wipe(engine: Engine, volume: string, manifest: Manifest): Promise<void> {
  try {
    await engine.removeVolume(volume);
    await engine.createVolume(volume, manifest.volumeLabels ?? {});
  } catch {
    // the error that caused the wipe is the one to report
  }
}

/** The volume's content must index to the backup's digest; returns the number of entries. */
export async function verifyVolume(engine: Engine, volume: string, manifest: Manifest): Promise<number> {
  const got = await indexVolume(engine, volume);
  if (indexDigest(got) !== manifest.contentDigest) {
    throw new Error(`host ${engine.endpoint.name}: volume ${volume} does not match the backup (content index digest differs)`);
  }
  return got.length;
}

/** For messages: where two volumes' contents first differ. */
export async function compareVolumes(a: { engine: Engine; volume: string }, b: { engine: Engine; volume: string }): Promise<string | undefined> {
  return firstDifference(await indexVolume(a.engine, a.volume), await indexVolume(b.engine, b.volume));
}

