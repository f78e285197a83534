/**
 * `env:`/`json-file:` in stack config are resolved only in the operator fields that need them
 * (stacks/resolve-env.ts): tenant-controlled config never reaches the operator's environment
 * or files, and no error prints a resolved value.
 */
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { OctwConfigError, OpenClawPlatform, type OpenClawPlatformArgs } from "../../packages/pulumi/src/index.js";
import { MockRecorder, PINNED, TYPES, settle } from "../../packages/pulumi/test/harness.js";
import { RESOLVABLE_FIELDS, resolveEnvReferences, resolveOperatorReferences, scrubResolvedValues } from "../../stacks/resolve-env.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const TOKEN = "pul-9f3c2a71d04be85c6a1f0e2d3b4c5a6978e1d2c3";
const scratch = mkdtempSync(join(tmpdir(), "octw-resolve-"));
const secretFile = join(scratch, "secret.json");
writeFileSync(secretFile, JSON.stringify({ privateKey: "k-7Hq2Wm9Zx4Lp8Rt1Vb6Nc3" }));
const ENV = {
  PULUMI_ACCESS_TOKEN: TOKEN,
  OCTW_IMAGE_OPENCLAW: PINNED.openclaw,
  OCTW_IMAGE_EGRESS: PINNED.egressProxy,
  OCTW_IMAGE_POSTGRES: PINNED.postgres,
};

/** The stack's shape: operator fields with references, and a tenant whose policy tries to read the operator's environment. */
function stackConfig(tenantPolicy: unknown) {
  return {
    prefix: "octwenv",
    images: { openclaw: "env:OCTW_IMAGE_OPENCLAW", egressProxy: "env:OCTW_IMAGE_EGRESS", postgres: "env:OCTW_IMAGE_POSTGRES", inferenceRouter: `sha256:${"f".repeat(64)}` },
    tenants: [{ id: "alpha", slot: 1, policy: tenantPolicy }],
    audit: { mode: "embedded" },
  };
}

const hostile = {
  version: 1,
  inference: { providers: [{ name: "openai", api: "openai", baseUrl: "https://api.openai.example", models: ["env:PULUMI_ACCESS_TOKEN", `json-file:${secretFile}`] }] },
};

describe("resolveEnvReferences", () => {
  it("resolves the operator fields of the allowlist (positive control)", () => {
    const r = resolveOperatorReferences(stackConfig(undefined), ENV, "octw:platform");
    expect(r.config.images).toMatchObject({ openclaw: PINNED.openclaw, egressProxy: PINNED.egressProxy, postgres: PINNED.postgres });
    expect(r.resolvedValues).toEqual(expect.arrayContaining([PINNED.openclaw, PINNED.egressProxy]));
    const keyFile = join(scratch, "jwk.json");
    writeFileSync(keyFile, JSON.stringify({ kty: "EC", kid: "k1" }));
    const withEdge = resolveEnvReferences({ edge: { jwt: { jwks: [`json-file:${keyFile}`], issuer: "env:OCTW_IMAGE_EGRESS" } } }, ENV, "p");
    expect(withEdge.edge.jwt.jwks).toEqual([{ kty: "EC", kid: "k1" }]);
  });

  it("passes the hostile tenant policy through as literal strings", () => {
    const r = resolveEnvReferences(stackConfig(hostile), ENV, "octw:platform");
    expect(r.tenants[0]!.policy).toEqual(hostile);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
    expect(JSON.stringify(r)).not.toContain("k-7Hq2Wm9Zx4Lp8Rt1Vb6Nc3");
  });

  it("property: whatever a tenant entry holds, references anywhere in it stay literal and nothing of the environment gets in", () => {
    const ref = fc.constantFrom("env:PULUMI_ACCESS_TOKEN", `json-file:${secretFile}`, "env:OCTW_IMAGE_OPENCLAW");
    const tenantValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: "small" }, ref, fc.string(), fc.integer(), fc.array(tie("v"), { maxLength: 4 }), fc.dictionary(fc.constantFrom("policy", "image", "id", "models", "host", "name", "runtime", "presets", "x"), tie("v"), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(fc.array(tenantValue, { minLength: 1, maxLength: 3 }), (tenants) => {
        const config = { ...stackConfig(undefined), tenants };
        const r = resolveOperatorReferences(config, ENV, "octw:platform");
        expect(r.config.tenants).toEqual(tenants);
        const text = JSON.stringify(r.config.tenants);
        expect(text).not.toContain(TOKEN);
        expect(text).not.toContain("k-7Hq2Wm9Zx4Lp8Rt1Vb6Nc3");
        // Only the three image references were resolved.
        expect(r.resolvedValues.sort()).toEqual([PINNED.openclaw, PINNED.egressProxy, PINNED.postgres].sort());
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a reference in an operator field outside the allowlist, naming the field and not the value", () => {
    for (const [path, config] of [
      ["octw:platform.domain", { domain: "env:PULUMI_ACCESS_TOKEN" }],
      ["octw:platform.audit.masterKey", { audit: { mode: "embedded", masterKey: "env:PULUMI_ACCESS_TOKEN" } }],
      ["octw:platform.images.openclaw", { images: { openclaw: `json-file:${secretFile}` } }],
    ] as const) {
      expect(() => resolveEnvReferences(config, ENV, "octw:platform")).toThrow(new RegExp(`^${path.replaceAll(".", "\\.")}: (env: references are resolved only in images\\.openclaw|json-file: references are resolved only in edge\\.jwt\\.jwks\\[\\])`));
      expect(() => resolveEnvReferences(config, ENV, "octw:platform")).not.toThrow(/PULUMI_ACCESS_TOKEN|secret\.json/);
    }
    expect(RESOLVABLE_FIELDS.some((f) => f.path[0] === "tenants")).toBe(false);
  });

  it("errors print neither a file's content nor a variable's name or value", () => {
    const bad = join(scratch, "bad.json");
    writeFileSync(bad, `{"k": "sk-live-Q8w7e6r5t4y3u2i1o0p9"`);
    let m = "";
    try {
      resolveEnvReferences({ edge: { jwt: { jwks: [`json-file:${bad}`] } } }, ENV, "p");
    } catch (e) {
      m = (e as Error).message;
    }
    expect(m).toBe("p.edge.jwt.jwks[0]: the file its json-file: reference names is not valid JSON");
    expect(() => resolveEnvReferences({ images: { openclaw: "env:ghp_NOT_SET_5b7c9d" } }, {}, "p")).toThrow(/^p\.images\.openclaw: refers to an environment variable that is not set/);
    try {
      resolveEnvReferences({ images: { openclaw: "env:ghp_NOT_SET_5b7c9d" } }, {}, "p");
    } catch (e) {
      m = (e as Error).message;
    }
    expect(m).not.toContain("ghp_NOT_SET_5b7c9d");
  });

  it("scrubResolvedValues removes every resolved value, longest first (positive control: the probe sees it before)", () => {
    const message = `images.openclaw: "${TOKEN}" is not pinned; also ${TOKEN.slice(0, 20)}`;
    expect(message).toContain(TOKEN);
    const clean = scrubResolvedValues(message, [TOKEN.slice(0, 20), TOKEN]);
    expect(clean).not.toContain(TOKEN);
    expect(clean).not.toContain(TOKEN.slice(0, 20));
    expect(clean).toBe("images.openclaw: \"<resolved value>\" is not pinned; also <resolved value>");
  });
});

describe("the stack path: resolve, then OpenClawPlatform", () => {
  function allInputs(): string {
    return JSON.stringify(recorder.resources.map((r) => r.inputs));
  }

  it("a tenant policy naming env:PULUMI_ACCESS_TOKEN gets the literal string in its openclaw.json, never the token", async () => {
    recorder.reset();
    new OpenClawPlatform("envtest", resolveEnvReferences(stackConfig(hostile), ENV, "octw:platform") as unknown as OpenClawPlatformArgs);
    await settle();
    const init = recorder.ofType(TYPES.container).find((c) => c.inputs.name === "octwenv-alpha-state-init");
    expect(init, "the tenant's state-init container is declared").toBeDefined();
    const openclaw = (init!.inputs.uploads as { file: string; content: string }[]).find((u) => u.file.endsWith("openclaw.json"))!.content;
    expect(openclaw).toContain("env:PULUMI_ACCESS_TOKEN");
    expect(allInputs()).not.toContain(TOKEN);
    expect(allInputs()).not.toContain("k-7Hq2Wm9Zx4Lp8Rt1Vb6Nc3");
    // Positive control: the same search finds a resolved value where it belongs (the image reference).
    expect(allInputs()).toContain(PINNED.openclaw);
  });

  it("positive control: resolving everywhere (the old behaviour) would have put the token into the tenant's files", async () => {
    recorder.reset();
    const resolved = resolveEnvReferences(stackConfig(hostile), ENV, "octw:platform");
    const naive = JSON.parse(JSON.stringify(resolved).replaceAll("env:PULUMI_ACCESS_TOKEN", TOKEN)) as OpenClawPlatformArgs;
    let err: unknown;
    try {
      new OpenClawPlatform("envtest-naive", naive);
    } catch (e) {
      err = e;
    }
    await settle();
    // The token is a valid-looking model id, so it would be accepted and delivered.
    expect(err).toBeUndefined();
    expect(allInputs()).toContain(TOKEN);
  });

  it("a validation error after resolution names the field, never the resolved value", () => {
    const env = { ...ENV, OCTW_IMAGE_OPENCLAW: TOKEN };
    const { config, resolvedValues } = resolveOperatorReferences(stackConfig(undefined), env, "octw:platform");
    let err: unknown;
    try {
      new OpenClawPlatform("envtest-bad", config as unknown as OpenClawPlatformArgs);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OctwConfigError);
    expect((err as OctwConfigError).problems.map((p) => p.path)).toContain("images.openclaw");
    expect((err as Error).message).not.toContain(TOKEN);
    expect(resolvedValues).toContain(TOKEN);
  });
});
