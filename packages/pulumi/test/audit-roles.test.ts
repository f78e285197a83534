// One credential per service (issue 10, class 7), as declared: the AuditStore declares one login
// role per service, the platform hands each service the URL of its own role (never the owner's,
// never another service's, never the retired shared writer's), and the roles and grants carry the
// options that keep `pulumi up`/`destroy` from dropping them (retainOnDelete, deleteBeforeReplace).
import * as pulumi from "@pulumi/pulumi";
import { SERVICE_EVENT_TYPES, SERVICE_ROLES, type ServiceRole } from "@octw/audit";
import { beforeAll, describe, expect, it } from "vitest";
import { installRegisterOptionCapture, takeRegisterOptions, type RegisterOptions } from "../../../test/realize/register-options.js";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
const options = new Map<string, RegisterOptions>();
beforeAll(async () => {
  installRegisterOptionCapture();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const o = takeRegisterOptions();
        if (o) options.set(`${args.type}::${args.name}`, o);
        return recorder.mocks.newResource(args);
      },
      call: (args) => recorder.mocks.call(args),
    },
    "octw",
    "test",
    false,
  );
});

const JWK = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "dev-1" };
const inference = { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["gpt-4.1-mini"] }] };
/** Every service that writes audit events is configured: edge, router (a tenant with inference), shipper, waker (a suspendable tenant). */
const config = {
  prefix: "octwtest",
  images: { ...PINNED, edge: `sha256:${"e".repeat(64)}`, inferenceRouter: `sha256:${"f".repeat(64)}`, egressAudit: `sha256:${"9".repeat(64)}`, waker: `sha256:${"8".repeat(64)}` },
  edge: { jwt: { issuer: "https://issuer.test", audience: "octw", algorithms: ["ES256"], jwks: [JWK] } },
  egressAudit: { dockerSocketGid: 998 },
  waker: { dockerSocketGid: 998 },
  tenants: [
    { id: "alpha", slot: 1, policy: { version: 1, inference }, suspend: { pauseAfterS: 60, stopAfterS: 600 } },
    { id: "bravo", slot: 2 },
  ],
  audit: { mode: "embedded" },
};

let rs: RecordedResource[];
const upload = (container: string, file: string): string => {
  const c = rs.find((r) => r.type === TYPES.container && r.inputs.name === container);
  if (!c) throw new Error(`no container ${container}`);
  const u = (c.inputs.uploads as { file: string; content: string }[]).find((x) => x.file === file);
  if (!u) throw new Error(`no upload ${file} in ${container}`);
  return u.content;
};
/** The URL each service receives, from the 0400 file its state-init container writes. */
const urls = (): Record<ServiceRole, URL> => ({
  edge: new URL(upload("octwtest-edge-state-init", "/state/secrets/audit-db-url")),
  router: new URL(upload("octwtest-router-state-init", "/state/secrets/db-url")),
  shipper: new URL(upload("octwtest-egress-audit-state-init", "/state/secrets/audit-db-url")),
  waker: new URL(upload("octwtest-waker-state-init", "/state/secrets/audit-db-url")),
});
const opts = (r: RecordedResource) => options.get(`${r.type}::${r.name}`)!;

describe("audit roles of the platform's services", () => {
  beforeAll(async () => {
    await settle();
    recorder.reset();
    new OpenClawPlatform("r1", config as unknown as OpenClawPlatformArgs);
    await settle();
    rs = recorder.resources;
  });

  it("gives each service the URL of its own role, with that role's own password", () => {
    const u = urls();
    for (const k of SERVICE_ROLES) {
      expect(decodeURIComponent(u[k].username), k).toBe(`octwtest_audit_${k}`);
      expect(decodeURIComponent(u[k].password), k).toBe(`pw-r1-audit-${k}-password`);
      expect(u[k].host).toBe("10.63.1.2:5432");
      expect(u[k].pathname).toBe("/octw_audit");
    }
  });

  it("gives no service the owner's credential, another service's, or the retired shared writer's", () => {
    const u = urls();
    const all = SERVICE_ROLES.map((k) => u[k].toString());
    expect(new Set(SERVICE_ROLES.map((k) => u[k].username)).size).toBe(4);
    expect(new Set(SERVICE_ROLES.map((k) => u[k].password)).size).toBe(4);
    for (const url of all) {
      expect(url).not.toContain("octwtest_audit_owner");
      expect(url).not.toContain("pw-r1-audit-owner-password");
      expect(url).not.toContain("octwtest_audit_writer");
      expect(url).not.toContain("pw-r1-audit-writer-password");
      expect(url).not.toContain("pw-r1-superuser-password");
    }
    // Positive control: the owner's credential does exist in the program (the schema resource uses it).
    const schema = rs.find((r) => r.type === TYPES.dynamic && r.name.endsWith("-audit-schema"))!;
    expect(schema.inputs).toMatchObject({ user: "octwtest_audit_owner", password: "pw-r1-audit-owner-password" });
    // And every file carrying a credential arrives as a secret input.
    for (const c of ["octwtest-edge-state-init", "octwtest-router-state-init", "octwtest-egress-audit-state-init", "octwtest-waker-state-init"]) {
      const r = rs.find((x) => x.type === TYPES.container && x.inputs.name === c)!;
      expect(r.secretPaths.some((p) => p.startsWith("uploads")), c).toBe(true);
    }
  });

  it("declares one login role per service, retained on delete, and the old shared writer as a NOLOGIN tombstone without a password", () => {
    const roles = rs.filter((r) => r.type === TYPES.pgRole);
    const byName = (n: string) => roles.find((r) => r.inputs.name === n)!;
    for (const k of SERVICE_ROLES) {
      const r = byName(`octwtest_audit_${k}`);
      expect(r.inputs, k).toMatchObject({ login: true, password: `pw-r1-audit-${k}-password`, superuser: false, createRole: false, createDatabase: false, bypassRowLevelSecurity: false, inherit: false });
      expect(r.secretPaths, k).toContain("password");
      expect(opts(r).retainOnDelete, k).toBe(true);
    }
    const writer = byName("octwtest_audit_writer");
    expect(writer.inputs).toMatchObject({ login: false, connectionLimit: 0, superuser: false });
    expect(writer.inputs.password).toBeUndefined();
    expect(opts(writer).retainOnDelete).toBe(true);
    // Positive control of the option capture: the owner is retained too, the data-init container is not.
    expect(opts(byName("octwtest_audit_owner")).retainOnDelete).toBe(true);
    expect(opts(rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwtest-audit-pgdata-init")!).retainOnDelete).toBe(false);
  });

  it("grants each service only CONNECT, USAGE and EXECUTE on append_events and append_event_columns; only the router SELECT on tenant_secrets; nothing to the writer", () => {
    const grants = rs.filter((r) => r.type === TYPES.pgGrant);
    const of = (role: string) => grants.filter((g) => g.inputs.role === role).map((g) => ({ objectType: g.inputs.objectType, objects: g.inputs.objects, privileges: g.inputs.privileges }));
    for (const k of SERVICE_ROLES) {
      expect(of(`octwtest_audit_${k}`), k).toEqual([
        { objectType: "database", objects: undefined, privileges: ["CONNECT"] },
        { objectType: "schema", objects: undefined, privileges: ["USAGE"] },
        { objectType: "function", objects: ["append_events"], privileges: ["EXECUTE"] },
        { objectType: "function", objects: ["append_event_columns"], privileges: ["EXECUTE"] },
        ...(k === "router" ? [{ objectType: "table", objects: ["tenant_secrets"], privileges: ["SELECT"] }] : []),
      ]);
    }
    expect(of("octwtest_audit_writer")).toEqual([]);
    expect(of("octwtest_audit_owner")).toEqual([]);
    for (const g of grants) expect(opts(g).deleteBeforeReplace, g.name).toBe(true);
  });

  it("migrates with the per-role event types: the schema SQL grants each service exactly its own", () => {
    const sql = String(rs.find((r) => r.type === TYPES.dynamic && r.name.endsWith("-audit-schema"))!.inputs.sql);
    const pairs = [...sql.matchAll(/\('(octwtest_audit_[a-z]+)', '([a-z_.]+)'\)/g)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(pairs).toEqual(SERVICE_ROLES.flatMap((k) => SERVICE_EVENT_TYPES[k].map((a) => `octwtest_audit_${k} ${a}`)).sort());
    // the schema waits for every role it names
    const schema = rs.find((r) => r.type === TYPES.dynamic && r.name.endsWith("-audit-schema"))!;
    const roleUrns = rs.filter((r) => r.type === TYPES.pgRole && /_audit_(owner|reader|edge|router|shipper|waker)$/.test(String(r.inputs.name))).map((r) => opts(r).urn);
    for (const urn of roleUrns) expect(opts(schema).dependencies).toContain(urn);
  });
});
