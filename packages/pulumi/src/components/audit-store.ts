import { createHash } from "node:crypto";
import * as docker from "@pulumi/docker";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { SERVICE_ROLES, migrationSql, requiredGrants, type AuditRoles, type ServiceRole } from "@octw/audit";
import { z } from "zod";
import { hardenedContainerArgs, labelList, volumeInitArgs, REPLACE_ON_CHANGES } from "../planners/container-hardening.js";
import { afterSuccessOf, inputString, namePrefixSchema } from "./common.js";
import { imageProblem } from "../planners/image-pinning.js";
import { OctwConfigError, parseOrThrow } from "../validation.js";
import { auditCaCertificateSchema } from "./audit-ca.js";
import { AuditSql } from "./audit-sql.js";
import { publishAddressProblem, publishedStoreHba, serverCertificateProblems, serverKeyProblem } from "../planners/audit-tls.js";
import { cidrContains } from "../planners/ip-ranges.js";

/** What no OCTW audit role may ever have. */
export const UNPRIVILEGED_ROLE = { superuser: false, createDatabase: false, createRole: false, replication: false, bypassRowLevelSecurity: false } as const;

/** The embedded Postgres image's fixed UID:GID (images/postgres). */
export const POSTGRES_UID = 5432;
const PGDATA = "/var/lib/postgresql/data";
/** Read by the image's entrypoint at initdb, then removed from the data directory. */
const PASSWORD_FILE_NAME = ".octw-superuser-password";
/** The TLS volume of a published store (outside PGDATA: initdb wants that empty on first start). */
const TLS_DIR = "/var/lib/postgresql/tls";

/** Connection settings of one role; the password output is secret. */
export interface AuditConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslMode: string;
}

const embeddedAuditStoreArgsSchema = z
  .strictObject({
    image: z.string().meta({ description: "Postgres image (`images/postgres` recipe): `repo@sha256:…` or a local image id." }),
    allowUnpinnedImage: z.boolean().optional().meta({ description: "Accept a tag-only image.", default: false }),
    networkName: inputString.meta({ description: "The private control network Postgres sits on (internal)." }),
    address: z.ipv4().meta({ description: "Postgres's fixed address on it." }),
    memoryMb: z.number().int().min(128, "must be at least 128 (MiB)").max(1_048_576).optional().meta({ description: "Memory limit in MiB.", default: 512 }),
    publish: z
      .strictObject({
        address: z.ipv4().meta({ description: "The address of the store's host its port is published on (never 0.0.0.0): where the other hosts' services and the program connect." }),
        port: z.number().int().min(1).max(65535).optional().meta({ description: "The published host port.", default: 5432 }),
        certificate: auditCaCertificateSchema.meta({ description: "PEM of the server's certificate: issued by `caCertificate`, subjectAltName IP:`address`." }),
        key: inputString.meta({ description: "PEM of the certificate's private key (unencrypted). Treated as secret." }),
        caCertificate: auditCaCertificateSchema.meta({ description: "PEM of the CA every client verifies the server against (sslmode verify-full)." }),
        controlSubnet: z.string().meta({ description: "The control network's subnet: its members keep connecting without TLS; everyone else needs TLS." }),
      })
      .optional()
      .meta({
        description:
          "Serve the store to other hosts: its port published on one address of its host, TLS only for\nanyone outside its control network (pg_hba `hostssl`), with the operator's certificate.\nConnections of `services`, `owner`, the provider and the migrations then go to that address\nwith sslmode verify-full; `onControlNetwork` are the plaintext ones of its own host.",
        defaultText: "not published: reachable on its control network only",
      }),
  })
  .meta({ id: "EmbeddedAuditStoreArgs" });
export type EmbeddedAuditStoreArgs = z.input<typeof embeddedAuditStoreArgsSchema>;

const externalAuditStoreArgsSchema = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).optional().meta({ default: 5432 }),
    adminUser: z.string().min(1).meta({ description: "A role allowed to create databases and roles." }),
    adminPassword: inputString,
    sslMode: z.enum(["disable", "require", "verify-ca", "verify-full"]).optional().meta({ description: "libpq sslmode.", default: "require" }),
    caCertificate: auditCaCertificateSchema.optional().meta({
      description:
        "PEM of the CA that issued the server's certificate: the schema migrations verify the server\nagainst it (the @pulumi/postgresql provider uses libpq's own trust: `PGSSLROOTCERT` on the\nmachine that runs `pulumi up`). The platform hands it to its services too.",
      defaultText: "Node's public roots",
    }),
  })
  .meta({ id: "ExternalAuditStoreArgs" });
export type ExternalAuditStoreArgs = z.input<typeof externalAuditStoreArgsSchema>;

/** AuditStore's args: the one declaration of their shape, validation and documentation. */
export const auditStoreArgsSchema = z
  .strictObject({
    mode: z.enum(["embedded", "external"]).meta({ description: "`embedded`: a Postgres container this component declares; `external`: an existing server." }),
    embedded: embeddedAuditStoreArgsSchema.optional().meta({ description: "Required when mode is `embedded`." }),
    external: externalAuditStoreArgsSchema.optional().meta({ description: "Required when mode is `external`." }),
    databaseName: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, "must be a lowercase identifier")
      .optional()
      .meta({ description: "Name of the audit database.", default: "octw_audit" }),
    namePrefix: namePrefixSchema.optional().meta({ description: "Prefix of role names and Docker object names.", default: "octw" }),
    masterKey: inputString.optional().meta({
      description: "Master key for tenant secrets (32 bytes, base64). Treated as secret.",
      defaultText: "generated with RandomBytes and kept encrypted in the Pulumi state",
    }),
  })
  .superRefine((a, ctx) => {
    if (a.mode === "embedded" && !a.embedded) ctx.addIssue({ code: "custom", path: ["embedded"], message: 'is required when mode is "embedded"' });
    if (a.mode === "external" && !a.external) ctx.addIssue({ code: "custom", path: ["external"], message: 'is required when mode is "external"' });
    if (a.mode === "embedded" && a.external) ctx.addIssue({ code: "custom", path: ["external"], message: 'must not be set when mode is "embedded"' });
    if (a.mode === "external" && a.embedded) ctx.addIssue({ code: "custom", path: ["embedded"], message: 'must not be set when mode is "external"' });
  });
export type AuditStoreArgs = z.input<typeof auditStoreArgsSchema>;

/** The store's role names: fixed by the name prefix, so a stack that only reads the store (a host's part) knows them too. */
export function auditRoles(namePrefix: string): AuditRoles {
  const rolePrefix = namePrefix.replace(/-/g, "_");
  return {
    owner: `${rolePrefix}_audit_owner`,
    reader: `${rolePrefix}_audit_reader`,
    edge: `${rolePrefix}_audit_edge`,
    router: `${rolePrefix}_audit_router`,
    shipper: `${rolePrefix}_audit_shipper`,
    waker: `${rolePrefix}_audit_waker`,
  };
}

/**
 * What the platform's parts use of an audit store: the AuditStore itself, or (in a host's part of
 * the per-host stack layout) the shared stack's store as read through a StackReference, which has
 * no migrated `schema` resource in that stack to wait for.
 */
export interface AuditStoreLike {
  readonly roles: AuditRoles;
  readonly services: Readonly<Record<ServiceRole, pulumi.Output<AuditConnection>>>;
  readonly provider: postgresql.Provider;
  readonly schema?: AuditSql;
  readonly owner: pulumi.Output<AuditConnection>;
  readonly masterKey: pulumi.Output<string>;
  /** The server's CA, when the operator names one (`external.caCertificate`, `embedded.publish.caCertificate`). */
  readonly caCertificate?: string;
}

/**
 * Postgres for the audit trail and tenant secrets. Declares (with @pulumi/postgresql) the
 * database, an owner role (also the operator's: `octw approvals`, `octw secrets set`), one
 * login role per service (edge, inference router, egress-audit shipper, waker) that may append only
 * that service's event types (checked inside `octw.append_events`) — only the router's may read
 * tenant secrets — and a reader group (tenant readers are per-tenant login roles in it:
 * TenantAuditReader);
 * applies `@octw/audit`'s versioned migrations as the owner; grants exactly what
 * `@octw/audit` says each role needs. Embedded mode also declares the Postgres container on
 * the private control network (no published port).
 */
export class AuditStore extends pulumi.ComponentResource {
  declare readonly roles: AuditRoles;
  /**
   * Per service, the connection of its own role: give each service only its own. Secret.
   * (Replaces the shared `writer` of earlier versions.)
   */
  declare readonly services: Readonly<Record<ServiceRole, pulumi.Output<AuditConnection>>>;
  /** The provider (admin connection) that declared the roles; TenantAuditReader uses it. */
  declare readonly provider: postgresql.Provider;
  /** The migrated schema; anything that depends on audit objects depends on it. */
  declare readonly schema: AuditSql;
  /** The owner/operator connection (migrations, `octw approvals`, `octw secrets set`). Never give it to a service. */
  declare readonly owner: pulumi.Output<AuditConnection>;
  /** Master key for tenant secrets, base64. Secret. */
  declare readonly masterKey: pulumi.Output<string>;
  declare readonly container?: docker.Container;
  /** The server's CA (`external.caCertificate`, `embedded.publish.caCertificate`): every connection the platform makes verifies against it. */
  declare readonly caCertificate?: string;
  /**
   * A published embedded store (`embedded.publish`): per service, its connection on the store's
   * own control network (plaintext there, as an unpublished store's) for the services of that
   * host. `services` then connect to the published address with verify-full. Secret.
   */
  declare readonly onControlNetwork?: Readonly<Record<ServiceRole, pulumi.Output<AuditConnection>>>;

  constructor(name: string, args: AuditStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    const parsed = AuditStore.validate(name, args);
    super("octw:index:AuditStore", name, {}, opts);
    const prefix = parsed.namePrefix ?? "octw";
    const rolePrefix = prefix.replace(/-/g, "_");
    const roles = auditRoles(prefix);
    const databaseName = parsed.databaseName ?? "octw_audit";

    let host: string;
    let port: number;
    let sslMode: string;
    let provider: postgresql.Provider;
    let caCertificate: string | undefined = parsed.external?.caCertificate;
    let local: { host: string; port: number } | undefined;
    if (parsed.mode === "embedded") {
      const e = parsed.embedded!;
      const superPassword = new random.RandomPassword(`${name}-superuser-password`, { length: 40, special: false }, { parent: this });
      const image = new docker.RemoteImage(`${name}-image`, { name: e.image, keepLocally: true }, { parent: this });
      const labels = (component: string) => labelList({ "octw.component": component, "octw.managed-by": "pulumi" });
      // The audit history outlives the stack: `pulumi destroy` leaves the data volume in place.
      const volume = new docker.Volume(`${name}-data`, { name: `${prefix}-audit-pgdata`, driver: "local", labels: labels("audit-data") }, { parent: this, retainOnDelete: true });
      const init = new docker.Container(
        `${name}-data-init`,
        {
          name: `${prefix}-audit-pgdata-init`,
          image: image.imageId,
          ...volumeInitArgs<pulumi.Input<string>>({
            uid: POSTGRES_UID,
            gid: POSTGRES_UID,
            volumeName: volume.name,
            files: [{ path: PASSWORD_FILE_NAME, content: pulumi.secret(superPassword.result) }],
          }),
          labels: labels("audit-data-init"),
        },
        { parent: this, deleteBeforeReplace: true },
      );
      const passwordFile = `${PGDATA}/${PASSWORD_FILE_NAME}`;
      const tls = e.publish ? publishedTls(name, prefix, e.publish, image.imageId, labels, this) : undefined;
      this.container = new docker.Container(
        `${name}-postgres`,
        {
          name: `${prefix}-audit-postgres`,
          image: image.imageId,
          hostname: `${prefix}-audit-postgres`,
          ...hardenedContainerArgs({
            uid: POSTGRES_UID,
            gid: POSTGRES_UID,
            limits: { memoryMb: e.memoryMb ?? 512, cpus: 1, nproc: 256, nofile: 4096 },
            tmpfs: [
              { path: "/tmp", sizeMb: 64 },
              { path: "/run/postgresql", sizeMb: 4 },
            ],
          }),
          // Postgres needs a real /dev/shm for its dynamic shared memory.
          shmSize: 128,
          networksAdvanced: [{ name: e.networkName, ipv4Address: e.address }, ...(tls ? [{ name: tls.network.name }] : [])],
          dns: ["127.0.0.1"],
          mounts: [{ type: "volume", source: volume.name, target: PGDATA }, ...(tls ? [tls.mount] : [])],
          envs: [`POSTGRES_PASSWORD_FILE=${passwordFile}`, `PGDATA=${PGDATA}`],
          healthcheck: { tests: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres"], interval: "5s", timeout: "3s", startPeriod: "10s", retries: 10 },
          restart: "unless-stopped",
          destroyGraceSeconds: 30,
          wait: true,
          waitTimeout: tls
            ? pulumi.all([afterSuccessOf(init, `${name}: data-init`, 120), afterSuccessOf(tls.init, `${name}: tls-init`, 120)]).apply(([s]) => s)
            : afterSuccessOf(init, `${name}: data-init`, 120),
          ...(tls ? { ports: [tls.port], command: tls.command } : {}),
          // A published store's certificate is read at start: a new one replaces the container.
          labels: tls ? labelList({ "octw.component": "audit-postgres", "octw.managed-by": "pulumi", "octw.audit-tls-sha256": tls.sha256 }) : labels("audit-postgres"),
        },
        { parent: this, deleteBeforeReplace: true, dependsOn: tls ? [init, tls.init] : [init], replaceOnChanges: REPLACE_ON_CHANGES },
      );
      if (e.publish) {
        // Everyone but the store host's own services: the published address, the server verified.
        local = { host: e.address, port: 5432 };
        host = e.publish.address;
        port = e.publish.port ?? 5432;
        sslMode = "verify-full";
        caCertificate = e.publish.caCertificate;
      } else {
        host = e.address;
        port = 5432;
        sslMode = "disable"; // traffic stays on the internal control network
      }
      // The provider trusts what libpq trusts (PGSSLROOTCERT where `pulumi up` runs; lib/pq has no
      // inline CA in the provider's settings): verify-full when published.
      provider = new postgresql.Provider(
        `${name}-admin`,
        { host, port, username: "postgres", password: superPassword.result, sslmode: sslMode, superuser: true, database: "postgres", connectTimeout: 30 },
        { parent: this, dependsOn: [this.container] },
      );
    } else {
      const x = parsed.external!;
      host = x.host;
      port = x.port ?? 5432;
      sslMode = x.sslMode ?? "require";
      provider = new postgresql.Provider(
        `${name}-admin`,
        { host, port, username: x.adminUser, password: pulumi.secret(x.adminPassword), sslmode: sslMode, superuser: false, database: "postgres", connectTimeout: 30 },
        { parent: this },
      );
    }
    const child = { parent: this, provider };

    // owner and the services log in; reader is a NOLOGIN group that sees nothing by itself: each
    // tenant gets its own login role in it, bound to that tenant (TenantAuditReader), because a
    // session setting could be changed by whoever holds the connection.
    const loginRole = (k: "owner" | ServiceRole, connectionLimit: number) => {
      const password = new random.RandomPassword(`${name}-${k}-password`, { length: 40, special: false }, { parent: this });
      const role = new postgresql.Role(
        `${name}-${k}-role`,
        { name: roles[k], login: true, password: password.result, ...UNPRIVILEGED_ROLE, inherit: false, connectionLimit },
        // Retained: the provider's delete runs REASSIGN OWNED / DROP OWNED before DROP ROLE, which
        // for the owner would drop the audit schema with it.
        { ...child, retainOnDelete: true },
      );
      return { password, role };
    };
    const owner = loginRole("owner", 8);
    // Pools are small (an AuditClient holds 2 connections, the router's key reads 4 more); the
    // limits leave room for a replaced container overlapping its successor.
    const service = { edge: loginRole("edge", 24), router: loginRole("router", 24), shipper: loginRole("shipper", 8), waker: loginRole("waker", 4) };
    const readerGroup = new postgresql.Role(`${name}-reader-role`, { name: roles.reader, login: false, ...UNPRIVILEGED_ROLE, inherit: false }, { ...child, retainOnDelete: true });
    // The shared writer of earlier versions (one credential for every service) is kept as a
    // declared tombstone: on a stack that had it, `pulumi up` turns it into NOLOGIN without a
    // password (and removes its grants), instead of leaving a live credential behind; on a new
    // stack it is an inert role with no privilege. Migration 3 already revoked what it held in
    // the database, and octw.append_events grants it no event type.
    new postgresql.Role(
      `${name}-writer-role`,
      { name: `${rolePrefix}_audit_writer`, login: false, ...UNPRIVILEGED_ROLE, inherit: false, connectionLimit: 0 },
      { ...child, retainOnDelete: true },
    );
    const roleResources = { owner: owner.role, reader: readerGroup, ...Object.fromEntries(SERVICE_ROLES.map((k) => [k, service[k].role])) };
    const database = new postgresql.Database(
      `${name}-database`,
      { name: databaseName, owner: roles.owner, encoding: "UTF8", template: "template0", allowConnections: true },
      // The tamper-evident trail outlives the infrastructure that writes it: the provider's delete
      // is DROP DATABASE … WITH (FORCE) (cyrilgdn resource_postgresql_database.go), so `pulumi
      // destroy` and a removed AuditStore leave the database in place (README: "What `pulumi
      // destroy` leaves behind").
      { ...child, dependsOn: [roleResources.owner], retainOnDelete: true },
    );
    // Nobody but the roles below may connect: revoke PUBLIC's default CONNECT/TEMPORARY.
    const publicRevoke = new postgresql.Grant(
      `${name}-public-database`,
      { database: databaseName, role: "public", objectType: "database", privileges: [] },
      { ...child, dependsOn: [database], deleteBeforeReplace: true },
    );

    const schema = new AuditSql(
      `${name}-schema`,
      {
        host,
        port,
        database: databaseName,
        user: roles.owner,
        password: owner.password.result,
        sslMode,
        ...(caCertificate !== undefined ? { caCertificate } : {}),
        sql: migrationSql(roles),
      },
      { parent: this, dependsOn: [database, publicRevoke, ...Object.values(roleResources)] },
    );
    for (const g of requiredGrants(roles)) {
      // Named by what it grants, not by position, so a new grant never renames the others.
      const what = [g.role, g.objectType, g.schema, ...(g.objects ?? [])].filter(Boolean).join("-");
      new postgresql.Grant(
        `${name}-grant-${what}`,
        {
          database: databaseName,
          role: g.role,
          objectType: g.objectType,
          privileges: [...g.privileges],
          ...(g.schema ? { schema: g.schema } : {}),
          ...(g.objects ? { objects: [...g.objects] } : {}),
        },
        { ...child, dependsOn: [schema], deleteBeforeReplace: true },
      );
    }

    const connection = (user: string, password: pulumi.Output<string>): pulumi.Output<AuditConnection> =>
      pulumi.secret(password.apply((pw) => ({ host, port, database: databaseName, user, password: pw, sslMode })));
    this.roles = roles;
    this.owner = connection(roles.owner, owner.password.result);
    this.services = Object.freeze(Object.fromEntries(SERVICE_ROLES.map((k) => [k, connection(roles[k], service[k].password.result)])) as Record<ServiceRole, pulumi.Output<AuditConnection>>);
    this.provider = provider;
    this.schema = schema;
    if (caCertificate !== undefined) this.caCertificate = caCertificate;
    if (local) {
      const at = local;
      const onControl = (user: string, password: pulumi.Output<string>): pulumi.Output<AuditConnection> =>
        pulumi.secret(password.apply((pw) => ({ host: at.host, port: at.port, database: databaseName, user, password: pw, sslMode: "disable" })));
      this.onControlNetwork = Object.freeze(Object.fromEntries(SERVICE_ROLES.map((k) => [k, onControl(roles[k], service[k].password.result)])) as Record<ServiceRole, pulumi.Output<AuditConnection>>);
    }
    this.masterKey = parsed.masterKey
      ? pulumi.secret(parsed.masterKey)
      : pulumi.secret(new random.RandomBytes(`${name}-master-key`, { length: 32 }, { parent: this }).base64);
    this.registerOutputs({ services: this.services, masterKey: this.masterKey });
  }

  static validate(name: string, args: AuditStoreArgs) {
    const subject = `AuditStore "${name}"`;
    const parsed = parseOrThrow(auditStoreArgsSchema, args, subject);
    if (parsed.embedded) {
      const problems: { path: string; message: string }[] = [];
      const problem = imageProblem(parsed.embedded.image, parsed.embedded.allowUnpinnedImage ?? false);
      if (problem) problems.push({ path: "embedded.image", message: problem });
      const p = parsed.embedded.publish;
      if (p) {
        const a = publishAddressProblem(p.address);
        if (a) problems.push({ path: "embedded.publish.address", message: a });
        problems.push(...serverCertificateProblems(p, { caCertificate: "embedded.publish.caCertificate", certificate: "embedded.publish.certificate", address: "embedded.publish.address" }));
        let inSubnet = false;
        try {
          inSubnet = cidrContains(p.controlSubnet, parsed.embedded.address);
        } catch {
          problems.push({ path: "embedded.publish.controlSubnet", message: "must be an IPv4 CIDR" });
        }
        if (!inSubnet && !problems.some((x) => x.path === "embedded.publish.controlSubnet")) problems.push({ path: "embedded.publish.controlSubnet", message: "must contain embedded.address (the store's control network)" });
        if (typeof p.key === "string") {
          const k = serverKeyProblem(p.certificate, p.key);
          if (k) problems.push({ path: "embedded.publish.key", message: k });
        }
      }
      if (problems.length) throw new OctwConfigError(subject, problems);
    }
    return parsed;
  }
}

type PublishArgs = NonNullable<z.output<typeof embeddedAuditStoreArgsSchema>["publish"]>;

/**
 * A published store's TLS part: a volume of its own (never the tenants' or the services') that a
 * one-shot init with no network fills — certificate, key (0400, owned by the postgres uid: what
 * Postgres demands of a key it owns) and pg_hba.conf — mounted read-only into Postgres, which the
 * settings in `command` point at; and the port, published on the one address the operator named.
 */
function publishedTls(name: string, prefix: string, p: PublishArgs, imageId: pulumi.Input<string>, labels: (c: string) => { label: string; value: string }[], parent: pulumi.Resource) {
  const volume = new docker.Volume(`${name}-tls`, { name: `${prefix}-audit-tls`, driver: "local", labels: labels("audit-tls") }, { parent });
  // Docker programs no port mapping for an endpoint on an internal network (the control network
  // is one): the published port needs a bridge of its own that is not internal — the store alone
  // on it (icc off), its subnet Docker's choice. Its one use is the mapping; the price is a route
  // out for the store's container, which holds no tenant code.
  const network = new docker.Network(
    `${name}-publish`,
    { name: `${prefix}-audit-publish`, driver: "bridge", internal: false, options: { "com.docker.network.bridge.enable_icc": "false" }, labels: labels("audit-publish") },
    { parent, deleteBeforeReplace: true },
  );
  // A key given as an Output is checked once its value is known (a plain string was checked at validation).
  const key = pulumi.secret(
    pulumi.output(p.key).apply((k) => {
      const problem = serverKeyProblem(p.certificate, k);
      if (problem) throw new OctwConfigError(`AuditStore "${name}"`, [{ path: "embedded.publish.key", message: problem }]);
      return k;
    }),
  );
  const init = new docker.Container(
    `${name}-tls-init`,
    {
      name: `${prefix}-audit-tls-init`,
      image: imageId,
      ...volumeInitArgs<pulumi.Input<string>>({
        uid: POSTGRES_UID,
        gid: POSTGRES_UID,
        volumeName: volume.name,
        files: [
          { path: "server.crt", content: p.certificate },
          { path: "server.key", content: key },
          { path: "pg_hba.conf", content: publishedStoreHba(p.controlSubnet) },
        ],
      }),
      labels: labels("audit-tls-init"),
    },
    { parent, deleteBeforeReplace: true },
  );
  return {
    init,
    network,
    mount: { type: "volume", source: volume.name, target: TLS_DIR, readOnly: true },
    port: { internal: 5432, external: p.port ?? 5432, ip: p.address, protocol: "tcp" },
    // The image's entrypoint passes these to postgres (images/postgres/entrypoint.sh).
    command: ["-c", "ssl=on", "-c", `ssl_cert_file=${TLS_DIR}/server.crt`, "-c", `ssl_key_file=${TLS_DIR}/server.key`, "-c", `hba_file=${TLS_DIR}/pg_hba.conf`, "-c", "ssl_min_protocol_version=TLSv1.2"],
    sha256: createHash("sha256").update(p.certificate).update(p.caCertificate).digest("hex"),
  };
}
