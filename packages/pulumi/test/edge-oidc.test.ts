// Browser sign-in (OIDC) declared in the platform config: the edge gets the settings as config,
// the client secret and the session-sealing key as secret 0400 files, and bad settings are
// refused naming the field.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { EDGE_IMAGE, EDGE_JWT, MockRecorder, PINNED, TYPES, settle, type RecordedResource } from "./harness.js";
import { CA_1, CA_2 } from "./test-ca-certificates.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const SESSION_KEY = "session-key-0123456789abcdef0123456789abcdef";
const CLIENT_SECRET = "client-secret-do-not-leak-42";
const oidc = {
  issuer: "https://idp.example",
  clientId: "octw-edge",
  clientSecret: CLIENT_SECRET,
  sessionKey: SESSION_KEY,
  tenantRoles: { alpha: { admin: ["alpha-admins"], member: ["eng"], viewer: ["support"] } },
  idpHosts: [{ host: "idp.example", ip: "192.0.2.10" }],
};
const config = (tenants: { id: string; slot: number }[], o: Record<string, unknown> = oidc) => ({
  prefix: "octwoidc",
  images: { ...PINNED, edge: EDGE_IMAGE },
  edge: { jwt: EDGE_JWT, oidc: o },
  tenants,
  audit: { mode: "embedded" },
});
const deploy = (name: string, cfg: unknown) => recorder.deploy(name, cfg);

describe("edge sign-in (OIDC) from the platform config", () => {
  it("renders the oidc section; the client secret and the session key arrive as secret 0400 files, never in the config or env", async () => {
    const rs = await deploy("o1", config([{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }]));
    const init = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwoidc-edge-state-init")!;
    const uploads = init.inputs.uploads as { file: string; content: string; permissions: string }[];
    const cfgText = uploads.find((u) => u.file === "/state/config/config.json")!.content;
    const cfg = JSON.parse(cfgText) as { oidc: Record<string, unknown> };
    expect(cfg.oidc).toEqual({
      issuer: "https://idp.example",
      clientId: "octw-edge",
      clientSecretFile: "/var/lib/octw-edge/secrets/oidc-client-secret",
      sessionKeyFile: "/var/lib/octw-edge/secrets/oidc-session-key",
      tenants: { alpha: { admin: ["alpha-admins"], member: ["eng"], viewer: ["support"] } },
    });
    expect(cfgText).not.toContain(CLIENT_SECRET);
    expect(cfgText).not.toContain(SESSION_KEY);
    for (const [file, content] of [["/state/secrets/oidc-client-secret", CLIENT_SECRET], ["/state/secrets/oidc-session-key", SESSION_KEY]]) {
      const u = uploads.find((x) => x.file === file)!;
      expect(u.content).toBe(content);
      expect(u.permissions).toBe("0400");
    }
    expect(init.secretPaths.some((p) => p.startsWith("uploads"))).toBe(true);
    const edge = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwoidc-edge")!;
    expect(JSON.stringify(edge.inputs.envs ?? [])).not.toContain(CLIENT_SECRET);
    expect(edge.inputs.hosts).toEqual([{ host: "idp.example", ip: "192.0.2.10" }]);
  });

  it("with sign-in, each gateway approves new browsers by the edge's identity up to every role's scopes (the edge caps each person); without it, no auto-approval (control)", async () => {
    const gatewayConfig = (rs: RecordedResource[]) => {
      const init = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwoidc-alpha-state-init")!;
      const up = (init.inputs.uploads as { file: string; content: string }[]).find((u) => u.file === "/state/openclaw.json")!;
      return JSON.parse(up.content) as { gateway: { auth: { trustedProxy: Record<string, unknown> } } };
    };
    const on = gatewayConfig(await deploy("auto1", config([{ id: "alpha", slot: 1 }])));
    expect(on.gateway.auth.trustedProxy).toEqual({
      userHeader: "x-octw-user",
      deviceAutoApprove: { enabled: true, scopes: ["operator.admin", "operator.approvals", "operator.pairing", "operator.read", "operator.write"] },
    });
    const plain = { ...config([{ id: "alpha", slot: 1 }]), edge: { jwt: config([]).edge.jwt } };
    const off = gatewayConfig(await deploy("auto2", plain));
    expect(off.gateway.auth.trustedProxy).toEqual({ userHeader: "x-octw-user" });
  });

  it("adding a tenant that tenantRoles does not name leaves the edge's inputs byte-identical", async () => {
    const before = await deploy("grow", config([{ id: "alpha", slot: 1 }]));
    const snap = new Map(before.map((r) => [`${r.type}::${r.name}`, JSON.stringify(r.rawInputs)]));
    const after = await deploy("grow", config([{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }]));
    const edgeKeys = [...snap.keys()].filter((k) => k.includes("-edge"));
    expect(edgeKeys.length).toBeGreaterThan(2);
    for (const r of after) {
      const key = `${r.type}::${r.name}`;
      if (edgeKeys.includes(key)) expect(JSON.stringify(r.rawInputs), key).toBe(snap.get(key));
    }
  });

  it("an IdP behind the organization's CA: its certificate goes into the edge's volume and Node trusts it from start; another CA replaces the edge", async () => {
    const edgeOf = async (name: string, pem: string | undefined) => {
      const rs = await deploy(name, config([{ id: "alpha", slot: 1 }], pem === undefined ? oidc : { ...oidc, idpCaCertificate: pem }));
      const init = rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwoidc-edge-state-init")!;
      const upload = (init.inputs.uploads as { file: string; content: string }[]).find((u) => u.file === "/state/config/oidc-idp-ca.pem");
      const envs = (rs.find((r) => r.type === TYPES.container && r.inputs.name === "octwoidc-edge")!.inputs.envs ?? []) as string[];
      return { upload, envs };
    };
    const one = await edgeOf("ca1", CA_1);
    expect(one.upload?.content).toBe(CA_1);
    expect(one.envs).toContain("NODE_EXTRA_CA_CERTS=/var/lib/octw-edge/config/oidc-idp-ca.pem");
    const two = await edgeOf("ca1", CA_2);
    expect(two.upload?.content).toBe(CA_2);
    // env forces the container's replacement: the new CA is read at the new container's start
    expect(two.envs).not.toEqual(one.envs);
    const none = await edgeOf("ca1", undefined);
    expect(none.upload).toBeUndefined();
    expect(none.envs.some((e) => e.startsWith("NODE_EXTRA_CA_CERTS="))).toBe(false);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["a CA certificate that is not PEM", { ...oidc, idpCaCertificate: "short" }, /edge\.oidc\.idpCaCertificate: must be PEM certificates only/],
    ["a PEM block that is not a certificate", { ...oidc, idpCaCertificate: "-----BEGIN CERTIFICATE-----\nshort\n-----END CERTIFICATE-----\n" }, /edge\.oidc\.idpCaCertificate: must be PEM certificates only/],
    ["a certificate followed by other text", { ...oidc, idpCaCertificate: `${CA_1}\nshort` }, /edge\.oidc\.idpCaCertificate: must be PEM certificates only/],
    ["a tenant that is not the platform's", { ...oidc, tenantRoles: { zeta: { member: ["g"] } } }, /edge\.oidc\.tenantRoles\.zeta: is not a tenant of this platform/],
    ["a role the edge does not define", { ...oidc, tenantRoles: { alpha: { owner: ["g"] } } }, /edge\.oidc\.tenantRoles\.alpha\.owner: is not a role defined in roles/],
    ["an http issuer", { ...oidc, issuer: "http://idp.example" }, /edge\.oidc\.issuer: must be an https: URL/],
    ["a short session key", { ...oidc, sessionKey: "short" }, /edge\.oidc\.sessionKey: must be a secret of at least 32 characters/],
    ["a bad groups claim path", { ...oidc, groupsClaim: "a..b" }, /edge\.oidc\.groupsClaim: a claim name or a dot path/],
  ];
  it.each(bad)("refuses %s, naming the field and never echoing a secret", async (_l, o, re) => {
    await settle();
    recorder.reset();
    let message = "";
    try {
      new OpenClawPlatform("bad", config([{ id: "alpha", slot: 1 }], o) as unknown as OpenClawPlatformArgs);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(re);
    expect(message).not.toContain(CLIENT_SECRET);
    expect(message).not.toContain("short");
    await settle();
    expect(recorder.resources).toEqual([]);
  });
});
