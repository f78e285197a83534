// EgressCredentials' provider, run from its serialized form (as Pulumi's dynamic-provider host and
// the realizing mock run it) against a real audit database: it opens exactly what
// `TenantSecrets.set` seals, as the router's SELECT-only role, and returns only the asked
// tenant's secrets of the asked providers, newest version; a rotation is seen by `diff` without
// reading values; a tampered row or a foreign keyring fails without echoing anything secret.
import { randomBytes } from "node:crypto";
import { TenantSecrets } from "@octw/audit";
import * as pulumi from "@pulumi/pulumi";
import type Dockerode from "dockerode";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResourceRealizer, type DynamicProvider } from "../../../test/realize/realizing-mocks.js";
import { createAuditDb, withClient, type TestAuditDb } from "../../audit/test/pg-support.js";
import { EgressCredentials } from "../src/components/egress-credentials.js";
import { MockRecorder, TYPES, settle } from "./harness.js";

const recorder = new MockRecorder();
let db: TestAuditDb;
let provider: DynamicProvider;
const master = randomBytes(32);
const keyring = `1:${master.toString("base64")}`;

function connectionOf(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), database: decodeURIComponent(u.pathname.slice(1)), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), sslMode: "disable" };
}

beforeAll(async () => {
  db = await createAuditDb();
  const pool = new pg.Pool({ connectionString: db.ownerUrl, max: 1 });
  const secrets = new TenantSecrets({ db: pool, keyring: [{ version: 1, key: master }] });
  await secrets.set("alpha", "gh/GH_TOKEN", "ghp_alpha-old");
  await secrets.set("alpha", "gh/GH_TOKEN", "ghp_alpha-new");
  await secrets.set("alpha", "gh/SECOND", "second-alpha");
  await secrets.set("alpha", "other/KEY", "not-bound");
  await secrets.set("alpha", "ghx/KEY", "prefix-only");
  await secrets.set("alpha", "gh", "no-key-part");
  await secrets.set("bravo", "gh/GH_TOKEN", "ghp_bravo");
  await pool.end();
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
  new EgressCredentials("c", { tenantId: "alpha", providers: ["gh"], connection: connectionOf(db.routerUrl), masterKeyring: keyring });
  await settle();
  const rec = recorder.ofType(TYPES.dynamic)[0]!;
  provider = createResourceRealizer({ runId: "unitcred", docker: {} as Dockerode }).loadDynamic("c", rec.inputs);
});

afterAll(async () => {
  await db?.drop();
});

const inputs = (over: Record<string, unknown> = {}) => ({ tenantId: "alpha", providers: ["gh"], connection: connectionOf(db.routerUrl), masterKeyring: keyring, ...over });

describe("EgressCredentials (serialized provider, real audit database, the router's role)", () => {
  it("returns the newest version of exactly the tenant's bound provider keys", async () => {
    const { outs } = await provider.create(inputs());
    expect(outs!.secrets).toEqual({ gh: { GH_TOKEN: "ghp_alpha-new", SECOND: "second-alpha" } });
    expect(outs!.versions).toEqual(["gh/GH_TOKEN@2", "gh/SECOND@1"]);
    // control: the other tenant's binding reads its own secret, never alpha's.
    expect((await provider.create(inputs({ tenantId: "bravo" }))).outs!.secrets).toEqual({ gh: { GH_TOKEN: "ghp_bravo" } });
    // A provider with nothing stored: an empty set (the proxy then refuses the endpoint).
    expect((await provider.create(inputs({ providers: ["none"] }))).outs!.secrets).toEqual({ none: {} });
  });

  it("diff sees a rotation from names and versions alone; nothing changed is no change", async () => {
    const { outs } = await provider.create(inputs());
    expect(await provider.diff!("x", outs!, inputs())).toMatchObject({ changes: false });
    await withClient(db.ownerUrl, async (c) => {
      const s = new TenantSecrets({ db: c, keyring: [{ version: 1, key: master }] });
      await s.set("alpha", "gh/SECOND", "second-alpha-rotated");
    });
    expect(await provider.diff!("x", outs!, inputs())).toMatchObject({ changes: true, replaces: [] });
    expect((await provider.update!("x", outs!, inputs()))?.outs?.secrets).toEqual({ gh: { GH_TOKEN: "ghp_alpha-new", SECOND: "second-alpha-rotated" } });
    expect(await provider.diff!("x", outs!, inputs({ tenantId: "bravo" }))).toMatchObject({ changes: true, replaces: ["tenantId"] });
  });

  it("a foreign keyring or a row moved to another tenant does not open, and the error holds no secret", async () => {
    const wrong = `1:${randomBytes(32).toString("base64")}`;
    const err = await provider.create(inputs({ masterKeyring: wrong })).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/does not authenticate/);
    expect(err?.message).not.toContain(wrong.slice(2, 20));
    await expect(provider.create(inputs({ masterKeyring: "not a keyring" }))).rejects.toThrow(/masterKeyring entry 1 must be <version>:<base64 of 32 bytes>$/);
    // Copy bravo's sealed row under alpha's name: it must not open as alpha's.
    await withClient(db.ownerUrl, (c) =>
      c.query(`INSERT INTO octw.tenant_secrets (tenant, name, version, key_version, nonce, ciphertext, auth_tag)
               SELECT 'alpha', 'moved/KEY', 1, key_version, nonce, ciphertext, auth_tag FROM octw.tenant_secrets WHERE tenant = 'bravo' AND name = 'gh/GH_TOKEN'`),
    );
    const moved = await provider.create(inputs({ providers: ["moved"] })).then(() => undefined, (e: unknown) => e as Error);
    expect(moved?.message).toMatch(/alpha\/moved\/KEY v1 does not authenticate/);
    expect(moved?.message).not.toContain("ghp_bravo");
  });
});
