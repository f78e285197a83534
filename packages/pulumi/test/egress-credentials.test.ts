// Credential bindings on the platform: a tenant whose policy binds a provider to an endpoint gets
// an EgressCredentials reader (its own tenant, its bound providers, a SELECT-only role) and its
// proxy an include file with the secret: a secret upload, 0400, the proxy's UID, beside the CA
// key; never in an environment, a command, a label or the gateway. A tenant without bindings gets
// none of it.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { SandboxPolicyDocument } from "@octw/contracts";
import { SandboxPolicy } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, deployPlatform, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const BOUND: SandboxPolicyDocument = {
  version: 1,
  network_policies: {
    code: { endpoints: [{ host: "api.code.example", port: 443, protocol: "rest", access: "full", credential_binding: { provider: "gh" } }] },
  },
};

const deploy = () => deployPlatform(recorder, "cr", [
  { id: "alpha", slot: 1, policy: BOUND },
  { id: "bravo", slot: 2, policy: BOUND },
  { id: "charlie", slot: 3 },
]);

const container = (rs: RecordedResource[], name: string) => rs.find((r) => r.type === TYPES.container && r.inputs.name === name);

describe("credential bindings on the platform", () => {
  it("each bound tenant reads only its own tenant's bound providers, through the router's SELECT-only role, with secret inputs", async () => {
    const rs = await deploy();
    const readers = rs.filter((r) => r.type === TYPES.dynamic && "masterKeyring" in r.inputs);
    expect(readers.map((r) => [r.inputs.tenantId, r.inputs.providers])).toEqual([
      ["alpha", ["gh"]],
      ["bravo", ["gh"]],
    ]);
    for (const r of readers) {
      expect((r.inputs.connection as { user: string }).user).toMatch(/router/);
      expect(r.secretPaths).toEqual(expect.arrayContaining(["connection", "masterKeyring"]));
    }
  });

  it("the secret reaches only that tenant's proxy include: a secret 0400 upload of the proxy's UID on its CA volume, referenced by the config", async () => {
    const rs = await deploy();
    const init = container(rs, "octwtest-alpha-egress-ca-init")!;
    const proxy = container(rs, "octwtest-alpha-egress")!;
    const uploads = init.inputs.uploads as { file: string; content: string; permissions: string; owner: string }[];
    const at = uploads.findIndex((u) => u.file.endsWith("/credentials.conf"));
    expect(uploads[at]).toMatchObject({ permissions: "0400", owner: String(proxy.inputs.user).split(":")[0] });
    expect(uploads[at]!.content).toMatch(/^request_header_add Authorization "Bearer SECRET-OF-alpha-gh" !CONNECT octw_cred0_host octw_cred0_port octw_cred_tls octw_cred0_h0_k0_s0$/m);
    expect(init.secretPaths.some((p) => p === "uploads" || p.startsWith(`uploads[${at}]`)), init.secretPaths.join()).toBe(true);
    const squid = Buffer.from((proxy.inputs.envs as string[]).find((e) => e.startsWith("OCTW_SQUID_CONFIG_B64="))!.slice(22), "base64").toString("utf8");
    expect(squid).toContain("include /etc/octw-egress/credentials.conf");
    expect(squid).toMatch(/^ssl_bump bump ep0_host ep0_port$/m);
    // A changed secret version replaces the proxy (public digest of names and versions only).
    expect((proxy.inputs.envs as string[]).some((e) => /^OCTW_EGRESS_CREDENTIALS_VERSIONS_SHA256=[0-9a-f]{64}$/.test(e))).toBe(true);
    // Nowhere else: not bravo's proxy, not any gateway, environment, command or label.
    const holders = rs.filter((r) => JSON.stringify(r.inputs).includes("SECRET-OF-alpha")).map((r) => (typeof r.inputs.name === "string" ? r.inputs.name : r.name));
    expect(holders).toEqual(["octwtest-alpha-egress-ca-init"]);
    for (const r of rs) expect(JSON.stringify({ envs: r.inputs.envs, command: r.inputs.command, labels: r.inputs.labels }), r.name).not.toContain("SECRET-OF-");
  });

  it("control: a tenant without bindings gets no reader, no include, and a config without the include", async () => {
    const rs = await deploy();
    expect(rs.some((r) => r.type === TYPES.dynamic && r.inputs.tenantId === "charlie" && "masterKeyring" in r.inputs)).toBe(false);
    const proxy = container(rs, "octwtest-charlie-egress")!;
    const squid = Buffer.from((proxy.inputs.envs as string[]).find((e) => e.startsWith("OCTW_SQUID_CONFIG_B64="))!.slice(22), "base64").toString("utf8");
    expect(squid).not.toContain("include");
  });

  it("SandboxPolicy alone refuses a binding without a credential store, naming the field", () => {
    const args = {
      tenantId: "alpha",
      policy: BOUND,
      tenantNetworkName: "n",
      proxyAddress: "10.0.0.3",
      egressNetworkName: "e",
      proxyImage: PINNED.egressProxy,
      proxyUid: 200_004,
      proxyGid: 200_004,
    };
    expect(() => SandboxPolicy.plan("p", args)).toThrow(/credentialStore: is required: the policy binds credentials/);
    // control: with a store, it plans, bound to "gh".
    expect(SandboxPolicy.plan("p", { ...args, credentialStore: { connection: { host: "h", port: 5432, database: "d", user: "u", password: "x", sslMode: "disable" }, masterKeyring: "1:x" } }).boundProviders).toEqual(["gh"]);
  });
});
