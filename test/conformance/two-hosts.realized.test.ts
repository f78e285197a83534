// One OpenClawPlatform on two hosts, realized: host "a" is the engine under test, host "b" a
// second dockerd in its own network namespace (test/realize/second-engine.ts: TLS with client
// certificates; a default route over its veth pair, so it reaches the first machine's addresses
// as a neighbouring host would; the suite's fake DNS as its --dns). Two tenants on each host; the
// audit store is an external Postgres serving TLS only with a certificate from a CA the test
// makes (test/realize/tls-postgres.ts), reached by every service with verify-full against
// `audit.caCertificate`. Then, from inside the tenants' gateways (docker exec as their own
// users), the attack suite's cross-tenant, egress and DNS probes on both hosts, and the
// cross-host probes: a tenant on A reaches nothing on B (B's engine API, B's edge's tenant-side
// addresses, B's tenants) and nothing of the audit store; audit events from both hosts' edges land
// in one verifiable chain per tenant; A's edge refuses B's tenant with 421. Every probe has a
// positive control (the same probe from a container that must get through).
//
// Traffic goes only to loopback, to the containers and namespaces this suite creates, and to the
// test environment's fake outside and DNS servers.
//
// The environment and platform config are test/conformance/multi-host-platform.ts, the probes
// test/conformance/multi-host-probes.ts (per-host-layout.realized.test.ts realizes the same
// platform as a shared stack and one stack per host, and runs the same probes).
import { afterAll, beforeAll, expect } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { OpenClawPlatform, planPlatform } from "@octw/pulumi";
import { createRealizingMocks, type RealizingMocks } from "../realize/index";
import { MultiHostFixture } from "./multi-host-platform";
import { describeCrossHostProbes, describeProbeSanity, describeProbesOnEachHost } from "./multi-host-probes";

const fx = new MultiHostFixture("two-hosts");
let rm: RealizingMocks | undefined;

beforeAll(async () => {
  await fx.startEnvironment();
  await fx.startAuditServer();
  const config = fx.platformConfig(fx.externalAudit());
  const plan = planPlatform(config, "two-hosts platform");

  rm = createRealizingMocks({ runId: fx.runId, docker: fx.dk, extraEngines: [fx.b!.host], log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
  await pulumi.runtime.setMocks(rm.mocks, "octw-two-hosts", "test", false);
  const platform = new OpenClawPlatform("p", config);
  fx.declareDnsControls({ a: platform.hosts.a!.provider, b: platform.hosts.b!.provider });
  const t = Date.now();
  await rm.settled();
  fx.timings.realizeMs = Date.now() - t;
  await fx.discover(plan);
  console.log(`[two-hosts] deployed run ${fx.runId}: ${JSON.stringify(fx.timings)}`);
}, 600_000);

afterAll(async () => {
  const left = await fx.teardown(() => rm?.destroyAll() ?? Promise.resolve());
  expect(left.a).toEqual([]);
  expect(left.b).toEqual([]);
}, 300_000);

describeProbesOnEachHost(fx);
describeCrossHostProbes(fx);
describeProbeSanity(fx);
