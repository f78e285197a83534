import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";

export interface AuditSqlArgs {
  host: pulumi.Input<string>;
  port: pulumi.Input<number>;
  database: pulumi.Input<string>;
  /** The owner role: migrations create objects it owns. */
  user: pulumi.Input<string>;
  password: pulumi.Input<string>;
  sslMode: pulumi.Input<string>;
  /** PEM of the CA the server's certificate is verified against (instead of Node's public roots). */
  caCertificate?: pulumi.Input<string>;
  /** Idempotent SQL from `@octw/audit`: the migration script (`migrationSql`) or a reader binding. */
  sql: string;
}

interface SchemaInputs {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslMode: string;
  caCertificate?: string;
  sql: string;
  sqlSha256: string;
}

// Dynamic providers are serialized into the state: everything they use is `require`d inside the
// function bodies (no captured imports), and the SQL travels as an input. Applying is
// idempotent (the script skips versions already recorded), so create and update are one path.
declare const require: (id: string) => unknown;

async function applySql(inputs: SchemaInputs): Promise<void> {
  const { Client } = require("pg") as { Client: new (c: object) => { connect(): Promise<void>; query(q: string): Promise<unknown>; end(): Promise<void> } };
  const client = new Client({
    host: inputs.host,
    port: inputs.port,
    database: inputs.database,
    user: inputs.user,
    password: inputs.password,
    ssl:
      inputs.sslMode === "disable"
        ? false
        : { rejectUnauthorized: inputs.sslMode === "verify-full" || inputs.sslMode === "verify-ca", ...(inputs.caCertificate !== undefined ? { ca: inputs.caCertificate } : {}) },
    connectionTimeoutMillis: 30_000,
  });
  await client.connect();
  try {
    await client.query(inputs.sql);
  } finally {
    await client.end();
  }
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SchemaInputs) {
    await applySql(inputs);
    return { id: `${inputs.host}:${inputs.port}/${inputs.database}`, outs: inputs };
  },
  async update(_id: string, _olds: SchemaInputs, news: SchemaInputs) {
    await applySql(news);
    return { outs: news };
  },
  diff(_id: string, olds: SchemaInputs, news: SchemaInputs) {
    const replaces = (["host", "port", "database"] as const).filter((k) => olds[k] !== news[k]);
    const changes = replaces.length > 0 || olds.sqlSha256 !== news.sqlSha256 || olds.user !== news.user || olds.password !== news.password || olds.sslMode !== news.sslMode;
    return Promise.resolve({ changes, replaces, deleteBeforeReplace: false });
  },
  // Deleting the resource keeps the schema: audit history is never dropped by a refactor.
  async delete() {},
};

/**
 * Idempotent SQL of `@octw/audit` applied as the audit owner at `pulumi up`: the schema
 * migrations (to the latest version), and each tenant reader's binding. A Pulumi dynamic
 * resource, because the Postgres provider has no notion of either. The password is secret.
 */
export class AuditSql extends pulumi.dynamic.Resource {
  declare readonly sqlSha256: pulumi.Output<string>;

  constructor(name: string, args: AuditSqlArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = {
      ...args,
      password: pulumi.secret(args.password),
      sqlSha256: createHash("sha256").update(args.sql).digest("hex"),
    };
    super(provider, name, inputs, { ...opts, additionalSecretOutputs: ["password"] });
  }
}
