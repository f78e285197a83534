// The per-tenant interception CA (EgressCa) and where the platform puts it: its key only into
// that tenant's egress proxy (a 0400 file, a secret input, never environment), its certificate
// only into that tenant's gateway trust. The CA provider itself is run from its serialized form,
// as Pulumi's dynamic-provider host and the realizing mock run it.
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type Dockerode from "dockerode";
import { beforeAll, describe, expect, it } from "vitest";
import { createResourceRealizer, type DynamicProvider } from "../../../test/realize/realizing-mocks.js";
import { EGRESS_CA_CERT_PATH, EgressCa } from "../src/index.js";
import { MockRecorder, TYPES, deployPlatform, settle, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const L7_POLICY = {
  version: 1,
  network_policies: {
    code: { endpoints: [{ host: "api.code.example", port: 443, protocol: "rest", rules: [{ allow: { method: "GET", path: "/repos/**" } }] }] },
  },
};

/** The serialized provider of an EgressCa, as the program hands it to the engine. */
async function caProvider(): Promise<{ provider: DynamicProvider; inputs: Record<string, unknown> }> {
  await settle();
  recorder.reset();
  new EgressCa("ca", { tenantId: "alpha", namePrefix: "octwtest" });
  await settle();
  const rec = recorder.ofType(TYPES.dynamic)[0]!;
  const realizer = createResourceRealizer({ runId: "unitca", docker: {} as Dockerode });
  return { provider: realizer.loadDynamic("ca", rec.inputs), inputs: Object.fromEntries(Object.entries(rec.inputs).filter(([k]) => k !== "__provider")) };
}

describe("EgressCa (its provider, run from the serialized form)", () => {
  it("makes a CA certificate and its key: a CA, self-signed, five years, naming the tenant", async () => {
    const { provider, inputs } = await caProvider();
    const { id, outs } = await provider.create(inputs);
    const cert = new X509Certificate(String(outs!.certPem));
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain("CN=octwtest alpha egress CA");
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    // The key belongs to the certificate.
    const key = createPrivateKey(String(outs!.keyPem));
    expect(createPublicKey(key).export({ type: "spki", format: "der" }).equals(cert.publicKey.export({ type: "spki", format: "der" }))).toBe(true);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(1824);
    expect(days).toBeLessThan(1826);
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(Date.now());
    expect(outs!.notAfter).toBe(new Date(cert.validTo).toISOString());
    expect(id).toContain(String(outs!.sha256).slice(0, 16));
  });

  it("every CA is new (two creations share no key), and only a change of what it is for replaces it", async () => {
    const { provider, inputs } = await caProvider();
    const a = (await provider.create(inputs)).outs!;
    const b = (await provider.create(inputs)).outs!;
    expect(a.keyPem).not.toBe(b.keyPem);
    expect(a.sha256).not.toBe(b.sha256);
    expect(await provider.diff!("x", a, inputs)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    for (const [k, v] of [["tenantId", "bravo"], ["namePrefix", "other"], ["validityDays", 30]] as const) {
      expect(await provider.diff!("x", a, { ...inputs, [k]: v }), k).toEqual({ changes: true, replaces: [k], deleteBeforeReplace: false });
    }
  });

  it("refuses a validity outside 1..3650 days, naming the field and not the value", async () => {
    const { provider, inputs } = await caProvider();
    for (const v of [0, 3651, 1.5]) await expect(provider.create({ ...inputs, validityDays: v })).rejects.toThrow(/validityDays must be an integer from 1 to 3650/);
    // control: the edges are accepted
    for (const v of [1, 3650]) await expect(provider.create({ ...inputs, validityDays: v })).resolves.toBeDefined();
  });
});

describe("the platform: a tenant with REST rules gets its own CA, the key only in its proxy, the certificate only in its gateway", () => {
  const deploy = () => deployPlatform(recorder, "ca", [
    { id: "alpha", slot: 1, policy: L7_POLICY },
    { id: "bravo", slot: 2, policy: L7_POLICY },
    { id: "charlie", slot: 3 },
  ]);
  const container = (rs: RecordedResource[], name: string) => rs.find((r) => r.type === TYPES.container && r.inputs.name === name);
  const squidOf = (proxy: RecordedResource) =>
    Buffer.from((proxy.inputs.envs as string[]).find((e) => e.startsWith("OCTW_SQUID_CONFIG_B64="))!.slice("OCTW_SQUID_CONFIG_B64=".length), "base64").toString("utf8");

  it("REST rules are enforced (not reported), by an intercepting proxy with the tenant's CA files", async () => {
    const rs = await deploy();
    const cas = rs.filter((r) => r.type === TYPES.dynamic && "validityDays" in r.inputs);
    expect(cas.map((c) => c.inputs.tenantId).sort()).toEqual(["alpha", "bravo"]);
    const squid = squidOf(container(rs, "octwtest-alpha-egress")!);
    expect(squid).toContain("http_port 3128 ssl-bump tls-cert=/etc/octw-egress/ca.pem tls-key=/etc/octw-egress/ca.key");
    expect(squid).toMatch(/^ssl_bump bump ep0_host ep0_port$/m);
    expect(squid).toMatch(/^acl ep0_a0_m method GET$/m);
    // control: a tenant without L7 rules keeps the blind tunnel and gets no CA.
    const charlie = squidOf(container(rs, "octwtest-charlie-egress")!);
    expect(charlie).not.toContain("ssl-bump");
    expect(container(rs, "octwtest-charlie-egress-ca-init")).toBeUndefined();
    expect(rs.some((r) => r.type === TYPES.volume && r.inputs.name === "octwtest-charlie-egress-ca")).toBe(false);
  });

  it("the key: a secret upload, 0400 and owned by the proxy's UID, on the proxy's own volume mounted read-only; never in any environment", async () => {
    const rs = await deploy();
    const init = container(rs, "octwtest-alpha-egress-ca-init")!;
    const proxy = container(rs, "octwtest-alpha-egress")!;
    const uploads = init.inputs.uploads as { file: string; content: string; permissions: string; owner: string }[];
    const keyAt = uploads.findIndex((u) => u.file.endsWith("/ca.key"));
    expect(uploads[keyAt]).toMatchObject({ content: "KEY-OF-alpha", permissions: "0400", owner: String(proxy.inputs.user).split(":")[0] });
    // The key makes its upload list secret (the whole list, as Pulumi propagates secrecy).
    expect(init.secretPaths.some((p) => p === "uploads" || p === `uploads[${keyAt}]` || p === `uploads[${keyAt}].content`), init.secretPaths.join()).toBe(true);
    expect(init.inputs.networkMode).toBe("none");
    expect(proxy.inputs.mounts).toEqual([{ type: "volume", source: "octwtest-alpha-egress-ca", target: "/etc/octw-egress", readOnly: true }]);
    for (const r of rs) {
      const text = JSON.stringify({ envs: r.inputs.envs, command: r.inputs.command, labels: r.inputs.labels });
      expect(text, r.name).not.toContain("KEY-OF-");
    }
    // Only alpha's proxy volume receives alpha's key; bravo's gets bravo's.
    const keyHolders = rs.filter((r) => JSON.stringify(r.inputs.uploads ?? []).includes("KEY-OF-alpha")).map((r) => r.inputs.name);
    expect(keyHolders).toEqual(["octwtest-alpha-egress-ca-init"]);
  });

  it("the certificate: in its own gateway's state volume and NODE_EXTRA_CA_CERTS, in no other tenant's", async () => {
    const rs = await deploy();
    const gw = container(rs, "octwtest-alpha-gateway")!;
    expect(gw.inputs.envs).toContain(`NODE_EXTRA_CA_CERTS=${EGRESS_CA_CERT_PATH}`);
    const stateInit = container(rs, "octwtest-alpha-state-init")!;
    expect((stateInit.inputs.uploads as { file: string; content: string }[]).find((u) => u.file.endsWith("/.octw/egress-ca.pem"))?.content).toBe("CERT-OF-alpha");
    const holders = rs.filter((r) => JSON.stringify(r.inputs).includes("CERT-OF-alpha")).map((r) => String(r.inputs.name));
    expect(holders.sort()).toEqual(["octwtest-alpha-egress-ca-init", "octwtest-alpha-state-init"]);
    // control: charlie (no L7) trusts nothing extra.
    expect((container(rs, "octwtest-charlie-gateway")!.inputs.envs as string[]).some((e) => e.startsWith("NODE_EXTRA_CA_CERTS="))).toBe(false);
  });
});
