// A stack file's platform config pointed at one test run: its Docker name prefix, address
// ranges, published edge port, audit database and locally built images, with the edge trusting
// a key made for the run. The realized suites that deploy a stack file (pr-preview-comment,
// second-run) build their configs with it, so they deploy the same thing the file declares.
import { exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { parse as parseYaml } from "yaml";
import type { OpenClawPlatformArgs } from "@octw/pulumi";

/** What makes one run's objects its own (derived from its run id). */
export interface RunSlot {
  runId: string;
  /** Docker name prefix. */
  prefix: string;
  /** 20..219: the third octet of the run's address ranges. */
  h: number;
  /** The edge's published port on 127.0.0.1. */
  edgePort: number;
}

export interface StackForRun {
  config: OpenClawPlatformArgs;
  /** Signs bearer tokens the run's edge accepts (kid as given). */
  signingKey: CryptoKey;
}

/** `env` reads a required test-environment variable (test/conformance/env.ts's requireEnv). */
export async function stackForRun(stackText: string, run: RunSlot, kid: string, env: (name: string) => string): Promise<StackForRun> {
  const stack = (parseYaml(stackText) as { config: { "octw:platform": OpenClawPlatformArgs } }).config["octw:platform"];
  const keys = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(keys.publicKey)), kid, alg: "ES256", use: "sig" };
  const { h } = run;
  const config: OpenClawPlatformArgs = {
    ...stack,
    prefix: run.prefix,
    addressPool: `10.210.${h}.0/24`,
    egressSubnet: `10.211.${h}.0/24`,
    controlSubnet: `10.212.${h}.0/28`,
    ingressSubnet: `10.214.${h}.0/28`,
    images: {
      openclaw: env("OCTW_IMAGE_OPENCLAW"),
      egressProxy: env("OCTW_IMAGE_EGRESS"),
      postgres: env("OCTW_IMAGE_POSTGRES"),
      edge: env("OCTW_IMAGE_EDGE"),
      inferenceRouter: env("OCTW_IMAGE_INFERENCE_ROUTER"),
    },
    edge: { ...stack.edge!, hostPort: run.edgePort, hostIp: "127.0.0.1", jwt: { ...stack.edge!.jwt, jwks: [jwk] } },
    audit: { mode: "embedded", databaseName: `${run.runId}_audit` },
  };
  return { config, signingKey: keys.privateKey };
}
