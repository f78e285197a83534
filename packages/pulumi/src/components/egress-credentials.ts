import type * as nodeCrypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { AuditConnection } from "./audit-store.js";

/**
 * The secrets a tenant's credential-bound endpoints (`credential_binding`) may use: read at
 * `pulumi up`, operator side, from the audit store's `tenant_secrets` (AES-256-GCM, see
 * @octw/audit's secrets-crypto.ts), for ONE tenant and only the providers its policy binds — the
 * secrets named `<provider>/<KEY>`, newest version of each. The values are a secret output; the
 * proxy gets them only inside its credential include (SandboxPolicy: a 0400 file of the proxy's,
 * on its own CA volume). The tenant's gateway only ever holds the placeholders.
 *
 * Re-read on every `pulumi up`: `diff` compares the stored (name, version) list — never the
 * values — with the one read before, so a secret set, rotated or deleted with `octw secrets`
 * reaches the proxy at the next `pulumi up` (which replaces the proxy's include file).
 *
 * Why a dynamic resource: the values must not pass through the program's inputs or any
 * unmarked output, and a value read at program time would be read on every preview too. Why the
 * decryption is written out here instead of imported from @octw/audit: a dynamic provider is
 * serialized into the state and can only `require` plain JavaScript packages at run time (as
 * EgressCa and AuditSql do), and @octw/audit ships TypeScript sources. A postgres test checks this
 * reader opens exactly what `TenantSecrets.set` seals.
 */
export interface EgressCredentialsArgs {
  tenantId: pulumi.Input<string>;
  /** Providers bound by the tenant's policy (credential_binding.provider). */
  providers: pulumi.Input<string[]>;
  /** A role that may SELECT `tenant_secrets` (the platform passes its router's). Secret. */
  connection: pulumi.Input<AuditConnection>;
  /** Master keyring `<version>:<base64 32 bytes>[,…]`. Secret. */
  masterKeyring: pulumi.Input<string>;
  /** PEM of the CA the audit server is verified against (a private CA: an external store's, a published embedded one's). */
  caCertificate?: pulumi.Input<string>;
}

interface Inputs {
  tenantId: string;
  providers: string[];
  connection: AuditConnection;
  masterKeyring: string;
  caCertificate?: string;
}

interface Outputs extends Inputs {
  /** Per provider, KEY → value. SECRET. */
  secrets: Record<string, Record<string, string>>;
  /** `<provider>/<KEY>@<version>` of what was read: names only, so a change is seen without values. */
  versions: string[];
}

// Everything is `require`d inside the function bodies: the provider is serialized into the state.
declare const require: (id: string) => unknown;

interface Row {
  name: string;
  version: number;
  key_version: number;
  nonce: Buffer;
  ciphertext: Buffer;
  auth_tag: Buffer;
}

/** Rows of the tenant's bound providers, newest version of each name; values only when `withValues`. */
async function readRows(inputs: Inputs, withValues: boolean): Promise<Row[]> {
  const { Client } = require("pg") as { Client: new (c: object) => { connect(): Promise<void>; query(q: string, p: unknown[]): Promise<{ rows: Row[] }>; end(): Promise<void> } };
  const c = inputs.connection;
  const client = new Client({
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    password: c.password,
    ssl:
      c.sslMode === "disable"
        ? false
        : { rejectUnauthorized: c.sslMode === "verify-full" || c.sslMode === "verify-ca", ...(inputs.caCertificate !== undefined ? { ca: inputs.caCertificate } : {}) },
    connectionTimeoutMillis: 30_000,
  });
  await client.connect();
  try {
    // Only this tenant, only names under a bound provider (split_part: no LIKE pattern to escape).
    const { rows } = await client.query(
      `SELECT DISTINCT ON (name) name, version, key_version${withValues ? ", nonce, ciphertext, auth_tag" : ""}
         FROM octw.tenant_secrets
        WHERE tenant = $1 AND split_part(name, '/', 1) = ANY($2::text[]) AND strpos(name, '/') > 0
        ORDER BY name, version DESC`,
      [inputs.tenantId, inputs.providers],
    );
    return rows;
  } finally {
    await client.end();
  }
}

const versionsOf = (rows: Row[]) => rows.map((r) => `${r.name}@${r.version}`).sort();

async function read(inputs: Inputs): Promise<Outputs> {
  const crypto = require("node:crypto") as typeof nodeCrypto;
  const keys = new Map<number, Buffer>();
  inputs.masterKeyring
    .split(/[\s,]+/)
    .filter((e) => e.length > 0)
    .forEach((entry, i) => {
      const m = /^(\d+):([A-Za-z0-9+/=_-]+)$/.exec(entry);
      const key = m ? Buffer.from(m[2]!, "base64") : undefined;
      // Never the entry's text: it is key material.
      if (!m || key!.length !== 32) throw new Error(`EgressCredentials: masterKeyring entry ${i + 1} must be <version>:<base64 of 32 bytes>`);
      keys.set(Number(m[1]), key!);
    });
  const rows = await readRows(inputs, true);
  const secrets: Record<string, Record<string, string>> = Object.fromEntries(inputs.providers.map((p) => [p, {}]));
  for (const row of rows) {
    const master = keys.get(row.key_version);
    if (!master) throw new Error(`EgressCredentials: secret ${inputs.tenantId}/${row.name} is sealed under master key version ${row.key_version}, which the keyring lacks`);
    // @octw/audit's scheme: HKDF-SHA256(master, salt, "tenant:<id>") → AES-256-GCM with AAD = length-prefixed tag|tenant|name|version.
    const tenantKey = Buffer.from(crypto.hkdfSync("sha256", master, Buffer.from("octw/tenant-secrets/v1"), Buffer.from(`tenant:${inputs.tenantId}`), 32));
    const aad = ["octw.secret.v1", inputs.tenantId, row.name, String(row.version)].map((p) => `${Buffer.byteLength(p)}:${p}`).join("");
    const decipher = crypto.createDecipheriv("aes-256-gcm", tenantKey, row.nonce, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(row.auth_tag);
    let value: string;
    try {
      value = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString("utf8");
    } catch {
      throw new Error(`EgressCredentials: secret ${inputs.tenantId}/${row.name} v${row.version} does not authenticate (wrong key, or the row was moved or altered)`);
    }
    const slash = row.name.indexOf("/");
    secrets[row.name.slice(0, slash)]![row.name.slice(slash + 1)] = value;
  }
  return { ...inputs, secrets, versions: versionsOf(rows) };
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: Inputs) {
    return { id: `${inputs.tenantId}-egress-credentials`, outs: await read(inputs) };
  },
  async update(_id: string, _olds: Outputs, news: Inputs) {
    return { outs: await read(news) };
  },
  async diff(_id: string, olds: Outputs, news: Inputs) {
    const replaces = olds.tenantId !== news.tenantId ? ["tenantId"] : [];
    const inputsChanged = JSON.stringify([...olds.providers].sort()) !== JSON.stringify([...news.providers].sort()) || JSON.stringify(olds.connection) !== JSON.stringify(news.connection) || olds.masterKeyring !== news.masterKeyring || olds.caCertificate !== news.caCertificate;
    // What is stored now (names and versions only): a set, rotated or deleted secret is an update.
    const stored = inputsChanged || replaces.length ? [] : versionsOf(await readRows(news, false));
    const changes = replaces.length > 0 || inputsChanged || JSON.stringify(stored) !== JSON.stringify(olds.versions);
    return { changes, replaces, deleteBeforeReplace: false };
  },
  // Nothing outside the state holds what was read.
  async delete() {},
};

/** The dynamic resource itself; see {@link EgressCredentialsArgs}. */
export class EgressCredentials extends pulumi.dynamic.Resource {
  /** Per provider, KEY → value. Secret. */
  declare readonly secrets: pulumi.Output<Record<string, Record<string, string>>>;
  declare readonly versions: pulumi.Output<string[]>;

  constructor(name: string, args: EgressCredentialsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        tenantId: args.tenantId, providers: args.providers, connection: pulumi.secret(args.connection), masterKeyring: pulumi.secret(args.masterKeyring),
        // absent without a CA: the inputs of a store verified against the public roots stay as they were
        ...(args.caCertificate !== undefined ? { caCertificate: args.caCertificate } : {}),
        secrets: undefined, versions: undefined,
      },
      { ...opts, additionalSecretOutputs: ["secrets", "connection", "masterKeyring"] },
    );
  }
}
