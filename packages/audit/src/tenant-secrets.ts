import type pg from "pg";
import type { AuditEventInput } from "./event";
import { AUDIT_SCHEMA } from "./migrations";
import {
  deriveTenantKey,
  openSecret,
  sealSecret,
  validateKeyring,
  type MasterKey,
  type SecretAddress,
} from "./secrets-crypto";

export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Metadata of a stored secret; deliberately has no value field. */
export interface SecretInfo {
  tenant: string;
  name: string;
  version: number;
  keyVersion: number;
  createdAt: Date;
  rotatedAt: Date | null;
}

export interface TenantSecretsOptions {
  /** A pool (or client): the owner (operator) for set/rotate; the router role may only read (get/list). */
  db: Pick<pg.Pool, "query">;
  /** Master keys; the highest version seals new secrets, all versions can open. */
  keyring: readonly MasterKey[];
  /** Where secret.set / secret.read / secret.rewrapped events go (e.g. an AuditClient). */
  audit?: { record(event: AuditEventInput): Promise<void> };
  /** Actor named in those events (default "octw-secrets"). */
  actor?: string;
}

interface SecretRow {
  tenant: string;
  name: string;
  version: number;
  key_version: number;
  nonce: Buffer;
  ciphertext: Buffer;
  auth_tag: Buffer;
}

const T = `${AUDIT_SCHEMA}.tenant_secrets`;

function checkAddress(tenant: string, name: string): void {
  if (typeof tenant !== "string" || !TENANT_PATTERN.test(tenant)) throw new Error(`tenant: must be 1-128 characters of [A-Za-z0-9._:-], got ${JSON.stringify(tenant)}`);
  if (typeof name !== "string" || !SECRET_NAME_PATTERN.test(name)) throw new Error(`name: must be 1-128 characters of [A-Za-z0-9._:/-], got ${JSON.stringify(name)}`);
}

/** Envelope-encrypted tenant secrets in octw.tenant_secrets. */
export class TenantSecrets {
  private readonly db: Pick<pg.Pool, "query">;
  private readonly keys: Map<number, Buffer>;
  private readonly current: MasterKey;
  private readonly audit: TenantSecretsOptions["audit"];
  private readonly actor: string;

  constructor(options: TenantSecretsOptions) {
    const ring = validateKeyring(options.keyring);
    this.db = options.db;
    this.keys = new Map(ring.map((k) => [k.version, k.key]));
    this.current = ring[ring.length - 1]!;
    this.audit = options.audit;
    this.actor = options.actor ?? "octw-secrets";
  }

  get currentKeyVersion(): number {
    return this.current.version;
  }

  private tenantKey(tenant: string, keyVersion: number): Buffer {
    const master = this.keys.get(keyVersion);
    if (!master) throw new Error(`master key version ${keyVersion} is not in the keyring (have ${[...this.keys.keys()].join(", ")})`);
    return deriveTenantKey(master, tenant);
  }

  /** Stores a new version of the secret and returns its version. The value is never logged. */
  async set(tenant: string, name: string, value: string | Buffer): Promise<{ version: number; keyVersion: number }> {
    checkAddress(tenant, name);
    const plaintext = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    if (plaintext.length === 0) throw new Error("value: must not be empty");
    if (plaintext.length > 64 * 1024) throw new Error("value: must be at most 64 KiB");
    const key = this.tenantKey(tenant, this.current.version);
    for (let attempt = 0; attempt < 5; attempt++) {
      const { rows } = await this.db.query<{ next: number }>(
        `SELECT coalesce(max(version), 0) + 1 AS next FROM ${T} WHERE tenant = $1 AND name = $2`,
        [tenant, name],
      );
      const version = rows[0]!.next;
      const sealed = sealSecret(key, { tenant, name, version }, plaintext);
      try {
        await this.db.query(
          `INSERT INTO ${T} (tenant, name, version, key_version, nonce, ciphertext, auth_tag) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [tenant, name, version, this.current.version, sealed.nonce, sealed.ciphertext, sealed.authTag],
        );
      } catch (err) {
        // Another writer took this version number (or, astronomically unlikely, the nonce): try the next.
        if ((err as { code?: string }).code === "23505") continue;
        throw err;
      }
      await this.audit?.record({ tenant, actor: this.actor, action: "secret.set", target: name, decision: "allowed", details: { version, keyVersion: this.current.version } });
      return { version, keyVersion: this.current.version };
    }
    throw new Error(`secret ${tenant}/${name}: could not allocate a version after 5 attempts (heavy concurrent writes)`);
  }

  /** Decrypts the latest (or the given) version. */
  async get(tenant: string, name: string, options: { version?: number } = {}): Promise<Buffer> {
    checkAddress(tenant, name);
    const params: unknown[] = [tenant, name];
    let where = "tenant = $1 AND name = $2";
    if (options.version !== undefined) {
      params.push(options.version);
      where += " AND version = $3";
    }
    const { rows } = await this.db.query<SecretRow>(
      `SELECT tenant, name, version, key_version, nonce, ciphertext, auth_tag FROM ${T} WHERE ${where} ORDER BY version DESC LIMIT 1`,
      params,
    );
    const row = rows[0];
    if (!row) throw new Error(`secret ${tenant}/${name}${options.version ? ` v${options.version}` : ""}: not found`);
    let value: Buffer;
    try {
      value = this.open(tenant, name, row);
    } catch (err) {
      // A row that does not authenticate is tampering (or a wrong key): worth an audit event.
      await this.audit?.record({ tenant, actor: this.actor, action: "secret.read", target: name, decision: "failed", details: { version: row.version, error: (err as Error).name } });
      throw err;
    }
    await this.audit?.record({ tenant, actor: this.actor, action: "secret.read", target: name, decision: "allowed", details: { version: row.version } });
    return value;
  }

  /**
   * Opens a row AS the secret `tenant/name` it is asked for: the AAD comes from the request,
   * not from the row, so a row copied to another tenant or name does not authenticate.
   */
  private open(tenant: string, name: string, row: SecretRow): Buffer {
    const address: SecretAddress = { tenant, name, version: row.version };
    return openSecret(this.tenantKey(tenant, row.key_version), address, { nonce: row.nonce, ciphertext: row.ciphertext, authTag: row.auth_tag });
  }

  async list(tenant?: string): Promise<SecretInfo[]> {
    if (tenant !== undefined && !TENANT_PATTERN.test(tenant)) throw new Error(`tenant: must be 1-128 characters of [A-Za-z0-9._:-], got ${JSON.stringify(tenant)}`);
    const { rows } = await this.db.query<{ tenant: string; name: string; version: number; key_version: number; created_at: Date; rotated_at: Date | null }>(
      `SELECT tenant, name, version, key_version, created_at, rotated_at FROM ${T}
        WHERE ($1::text IS NULL OR tenant = $1) ORDER BY tenant, name, version`,
      [tenant ?? null],
    );
    return rows.map((r) => ({ tenant: r.tenant, name: r.name, version: r.version, keyVersion: r.key_version, createdAt: r.created_at, rotatedAt: r.rotated_at }));
  }

  /**
   * Re-seals every row not under the newest master key, one row per statement. Each UPDATE is
   * conditional on the row being unchanged, and readers hold both key versions meanwhile, so
   * reads keep working throughout (no downtime). A row that does not authenticate (tampered,
   * or sealed under a key not in the keyring) is left as it is and reported in `failed`, so
   * one bad row cannot block the rotation of all others.
   */
  async rotateMasterKey(options: { batchSize?: number } = {}): Promise<{ rewrapped: number; failed: { tenant: string; name: string; version: number; reason: string }[] }> {
    const batchSize = options.batchSize ?? 100;
    const target = this.current.version;
    let rewrapped = 0;
    const failed: { tenant: string; name: string; version: number; reason: string }[] = [];
    let after: [string, string, number] = ["", "", 0];
    for (;;) {
      const { rows } = await this.db.query<SecretRow>(
        `SELECT tenant, name, version, key_version, nonce, ciphertext, auth_tag FROM ${T}
          WHERE key_version <> $1 AND (tenant, name, version) > ($2, $3, $4)
          ORDER BY tenant, name, version LIMIT $5`,
        [target, after[0], after[1], after[2], batchSize],
      );
      if (rows.length === 0) return { rewrapped, failed };
      for (const row of rows) {
        after = [row.tenant, row.name, row.version];
        let plaintext: Buffer;
        try {
          plaintext = this.open(row.tenant, row.name, row);
        } catch (err) {
          failed.push({ tenant: row.tenant, name: row.name, version: row.version, reason: (err as Error).message });
          continue;
        }
        const sealed = sealSecret(this.tenantKey(row.tenant, target), { tenant: row.tenant, name: row.name, version: row.version }, plaintext);
        plaintext.fill(0);
        const res = await this.db.query(
          `UPDATE ${T} SET key_version = $1, nonce = $2, ciphertext = $3, auth_tag = $4, rotated_at = now()
            WHERE tenant = $5 AND name = $6 AND version = $7 AND key_version = $8 AND nonce = $9`,
          [target, sealed.nonce, sealed.ciphertext, sealed.authTag, row.tenant, row.name, row.version, row.key_version, row.nonce],
        );
        if (res.rowCount === 1) {
          rewrapped++;
          await this.audit?.record({ tenant: row.tenant, actor: this.actor, action: "secret.rewrapped", target: row.name, decision: "allowed", details: { version: row.version, fromKeyVersion: row.key_version, toKeyVersion: target } });
        }
      }
    }
  }
}
