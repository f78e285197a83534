/**
 * The whole platform from one config object, with the audit trail on an existing Postgres
 * server (e.g. a managed one). The admin role needs CREATEDB and CREATEROLE; OCTW declares the
 * database, its owner, per-service (edge/router/shipper) and reader roles and grants, and migrates the schema.
 *
 * Config: `images` (pinned), `db.host`, `db.adminUser`, secret `db.adminPassword`
 * (pulumi config set --secret db.adminPassword …).
 */
import * as pulumi from "@pulumi/pulumi";
import { OpenClawPlatform } from "@octw/pulumi";

const config = new pulumi.Config();
const images = config.requireObject<{ openclaw: string; egressProxy: string }>("images");
const db = new pulumi.Config("db");

const platform = new OpenClawPlatform("prod", {
  prefix: "oc",
  domain: "agents.example.com",
  images,
  defaults: { limits: { memoryMb: 2048, cpus: 1 } },
  tenants: [
    { id: "acme", slot: 1, presets: ["restricted", "github", "slack"] },
    { id: "globex", slot: 2, presets: ["restricted", "telegram"] },
    // A tenant that needs a stronger boundary runs under gVisor (runsc must be installed).
    { id: "initech", slot: 3, presets: ["restricted"], runtime: "runsc", limits: { memoryMb: 3072 } },
  ],
  audit: {
    mode: "external",
    host: db.require("host"),
    port: db.getNumber("port") ?? 5432,
    adminUser: db.require("adminUser"),
    adminPassword: db.requireSecret("adminPassword"),
    sslMode: "verify-full",
  },
});

export const tenants = platform.tenantSummary;
export const auditOperator = platform.audit.owner;
