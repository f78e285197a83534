/**
 * What makes `pulumi up` fail when a container does not come up (issue 9).
 *
 * A failed one-shot init container fails the deploy. pulumi-docker waits for an
 * `attach` container but never checks its exit code (kreuzwerker v4.5.0
 * resource_docker_container_funcs.go); its Read records `exit_code`. Every component gates the
 * container that needs its init on that code (common.ts afterSuccessOf). Tested as a class: the
 * platform is declared with every component that has an init container; each init in turn
 * reports a failure, and exactly the containers that need it are not created, with an error
 * naming that init. Control: every init succeeds and every container is created.
 *
 * Every long-lived container is declared with `wait` and a healthcheck: the provider's create
 * does not check that it keeps running, so only `wait` turns a dead one into a failed deploy.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle } from "./harness.js";

const pinned = (c: string) => `sha256:${c.repeat(64)}`;
const EC_PUBLIC = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" };
const inference = { providers: [{ name: "models", api: "openai", baseUrl: "https://api.models.example", models: ["m-1"] }] };

/** The init container (by container name) that reports a non-zero exit code, if any. */
let failing: string | undefined;
const recorder = new MockRecorder();
const mocks: pulumi.runtime.Mocks = {
  ...recorder.mocks,
  newResource: (args) => {
    const r = recorder.mocks.newResource(args) as { id: string; state: Record<string, unknown> };
    const inputs = args.inputs as Record<string, unknown>;
    // What the provider's Read records for a one-shot that exited 2.
    if (args.type === TYPES.container && inputs.attach === true && inputs.name === failing) r.state.exitCode = 2;
    return r;
  },
};
beforeAll(async () => {
  await pulumi.runtime.setMocks(mocks, "octw", "test", false);
});

/** Every component that has an init container: audit store, gateways, edge, router, shipper, waker. */
const config = {
  prefix: "octwtest",
  images: { ...PINNED, edge: pinned("d"), inferenceRouter: pinned("e"), egressAudit: pinned("f"), waker: pinned("9") },
  inferenceRouter: {},
  egressAudit: { dockerSocketGid: 998, dockerSocketPath: "/var/run/docker.sock", windowMs: 60_000 },
  waker: { dockerSocketGid: 998, dockerSocketPath: "/var/run/docker.sock", wakeTimeoutMs: 60_000 },
  suspend: { pauseAfterS: 60, stopAfterS: 600 },
  edge: { hostPort: 8443, hostIp: "127.0.0.1", jwt: { issuer: "https://idp.example.com", audience: "octw", algorithms: ["ES256"], jwks: [EC_PUBLIC] } },
  tenants: [
    { id: "alpha", slot: 1, policy: { version: 1, inference } },
    { id: "bravo", slot: 2 },
  ],
  audit: { mode: "embedded" },
};

interface Run {
  /** Container names declared (reached the engine). */
  created: string[];
  inits: string[];
  /** Messages of the registrations that failed. */
  errors: string[];
}

async function deploy(fail: string | undefined): Promise<Run> {
  await settle();
  recorder.reset();
  failing = fail;
  // A registration whose input fails rejects outside any awaited promise (as in `pulumi up`,
  // where the engine reports it as the resource's error): collect those rejections.
  const errors: string[] = [];
  const onRejection = (e: unknown) => errors.push(e instanceof Error ? e.message : String(e));
  process.on("unhandledRejection", onRejection);
  try {
    new OpenClawPlatform("p", config as unknown as OpenClawPlatformArgs);
    await settle().catch((e: unknown) => onRejection(e));
    // unhandled rejections are reported on a later turn of the event loop
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  const containers = recorder.ofType(TYPES.container);
  return {
    created: containers.map((c) => String(c.inputs.name)).sort(),
    inits: containers.filter((c) => c.inputs.attach === true).map((c) => String(c.inputs.name)).sort(),
    errors,
  };
}

/** Which container each init feeds, and the component name its error carries. */
const NEEDS: Record<string, { dependent: string; names: RegExp }> = {
  "octwtest-audit-pgdata-init": { dependent: "octwtest-audit-postgres", names: /p-audit: data-init exited 2/ },
  "octwtest-alpha-state-init": { dependent: "octwtest-alpha-gateway", names: /p-alpha: state-init exited 2/ },
  "octwtest-bravo-state-init": { dependent: "octwtest-bravo-gateway", names: /p-bravo: state-init exited 2/ },
  "octwtest-edge-state-init": { dependent: "octwtest-edge", names: /p-edge: state-init exited 2/ },
  "octwtest-router-state-init": { dependent: "octwtest-inference-router", names: /p-inference-router: state-init exited 2/ },
  "octwtest-egress-audit-state-init": { dependent: "octwtest-egress-audit", names: /p-egress-audit: state-init exited 2/ },
  "octwtest-waker-state-init": { dependent: "octwtest-waker", names: /p-waker: state-init exited 2/ },
};

describe("a failed one-shot init container fails the deploy (the provider does not check exit codes)", () => {
  let control: Run;
  beforeAll(async () => {
    control = await deploy(undefined);
  });

  it("control: every init succeeds, every container is created and nothing fails", () => {
    expect(control.errors).toEqual([]);
    // the table below names every init the platform declares: a new one must be added there
    expect(control.inits).toEqual(Object.keys(NEEDS).sort());
    for (const { dependent } of Object.values(NEEDS)) expect(control.created).toContain(dependent);
  });

  it.each(Object.keys(NEEDS))("%s exits 2: the container that needs it is not created, and the error names the init", async (init) => {
    const r = await deploy(init);
    const { dependent, names } = NEEDS[init]!;
    expect(r.created).toContain(init);
    expect(r.created).not.toContain(dependent);
    expect(r.errors.some((e) => names.test(e)), r.errors.slice(0, 3).join("\n")).toBe(true);
    // the other tenants' gateways do not depend on it (the audit store's data is everyone's)
    if (init !== "octwtest-audit-pgdata-init") {
      const other = init.includes("alpha") ? "octwtest-bravo-gateway" : "octwtest-alpha-gateway";
      expect(r.created).toContain(other);
    }
  });
});

describe("every long-lived container is waited for (wait + healthcheck), so a dead one fails the deploy", () => {
  // The provider's create does not check that a container keeps running (no must_run check;
  // kreuzwerker v4.5.0 resource_docker_container_funcs.go): only `wait` (healthy within
  // `waitTimeout`) makes a container that dies or never becomes ready fail `pulumi up`.
  it("gateways, egress proxies, Postgres, edge, router, egress-audit shipper and waker: wait: true with a healthcheck", async () => {
    await deploy(undefined);
    const longLived = recorder.ofType(TYPES.container).filter((c) => c.inputs.attach !== true);
    const names = longLived.map((c) => String(c.inputs.name)).sort();
    // positive control of the selection: the services this issue names are among them
    expect(names).toEqual(expect.arrayContaining(["octwtest-egress-audit", "octwtest-edge", "octwtest-inference-router", "octwtest-waker", "octwtest-audit-postgres", "octwtest-alpha-gateway", "octwtest-alpha-egress"]));
    for (const c of longLived) {
      const hc = c.inputs.healthcheck as { tests?: string[] } | undefined;
      expect(c.inputs.wait, String(c.inputs.name)).toBe(true);
      expect(hc?.tests?.length ?? 0, String(c.inputs.name)).toBeGreaterThan(1);
      expect(c.inputs.waitTimeout, String(c.inputs.name)).toBeGreaterThan(0);
    }
    const shipper = longLived.find((c) => c.inputs.name === "octwtest-egress-audit")!;
    // the shipper's check is its heartbeat (`healthcheck` subcommand of its own entry point)
    expect((shipper.inputs.healthcheck as { tests: string[] }).tests.at(-1)).toBe("healthcheck");
  });
});
