// The provider model the realizing deployment computes second runs with (test/realize/provider-model):
// one case per modelled rule where the provider refuses, replaces, updates or changes nothing,
// each naming the upstream file the rule comes from.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type Dockerode from "dockerode";
import { cpusAsProviderReadsThem } from "../../packages/pulumi/src/planners/container-hardening";
import { diffByRules } from "../realize/provider-model/diff";
import { CONTAINER_RULES, NETWORK_RULES, containerCreateChecks, goDurationString, nanoInt64ToDecimalString, readContainer } from "../realize/provider-model/docker";
import { POSTGRES_RULES } from "../realize/provider-model/postgresql";
import { randomRules } from "../realize/provider-model/random";

const ctr = (state: Record<string, unknown>, news: Record<string, unknown>) => diffByRules(CONTAINER_RULES, "c", state, news);

describe("kreuzwerker v4.5.0 helpers.go nanoInt64ToDecimalString (Read of cpus)", () => {
  it.each([
    [1e9, "1.0"], [5e8, "0.5"], [25e7, "0.25"], [15e8, "1.5"], [2e9, "2.0"], [1e8, "0.1"], [10e9, "10."], [12e8, "1.2"],
  ])("%d ns reads back as %s", (nano, s) => {
    expect(nanoInt64ToDecimalString(nano)).toBe(s);
  });

  it("the planner declares cpus in exactly the read-back form, for any CPU count in milli-CPUs", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 512_000 }), (milli) => {
      expect(cpusAsProviderReadsThem(milli / 1000)).toBe(nanoInt64ToDecimalString(milli * 1e6));
    }));
  });
});

describe("Go time.Duration.String (Read of healthcheck durations)", () => {
  it.each([[0, "0s"], [10e9, "10s"], [60e9, "1m0s"], [90e9, "1m30s"], [3600e9, "1h0m0s"], [5e8, "500ms"]])("%d ns → %s", (ns, s) => {
    expect(goDurationString(ns)).toBe(s);
  });
});

describe("resource_docker_container.go schema + _funcs.go Read: container diffs", () => {
  it("cpus \"1\" against the read-back \"1.0\" forces replacement (ForceNew, no DiffSuppress)", () => {
    expect(ctr({ cpus: "1.0" }, { cpus: "1" })).toMatchObject({ op: "replace", changes: [{ field: "cpus", action: "replace" }] });
    expect(ctr({ cpus: "1.0" }, { cpus: "1.0" }).op).toBe("same");
  });

  it("memory and memory_swap update in place (Update: ContainerUpdate)", () => {
    expect(ctr({ memory: 1024, memorySwap: 1024 }, { memory: 1280, memorySwap: 1280 })).toMatchObject({ op: "update" });
  });

  it("tmpfs, healthcheck and init are not ForceNew: a change is an update the provider never sends to the engine", () => {
    expect(ctr({ tmpfs: { "/tmp": "rw" } }, { tmpfs: { "/tmp": "rw,noexec" } }).op).toBe("update");
    const hc = { tests: ["CMD", "true"], interval: "10s" };
    expect(ctr({ healthcheck: [{ tests: ["CMD", "true"], interval: "10s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0 }] }, { healthcheck: hc }).op).toBe("same");
    expect(ctr({ healthcheck: [{ tests: ["CMD", "true"], interval: "1m0s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0 }] }, { healthcheck: { ...hc, interval: "60s" } }).op).toBe("update");
  });

  it("env and labels are not read back (Computed): absent from config is no change, a changed value replaces", () => {
    expect(ctr({ envs: ["A=1"] }, {}).op).toBe("same");
    expect(ctr({ envs: ["A=1"] }, { envs: ["A=2"] }).op).toBe("replace");
    expect(ctr({ envs: ["A=1", "B=2"] }, { envs: ["B=2", "A=1"] }).op).toBe("same"); // a Set
  });

  it("an unset Optional primitive equals its zero value in state (SDKv2): publish_all_ports false, max_retry_count 0", () => {
    expect(ctr({ publishAllPorts: false, maxRetryCount: 0, cpuShares: 0 }, {}).op).toBe("same");
    expect(ctr({ publishAllPorts: true }, {}).op).toBe("replace");
  });

  it("working_dir and user: DiffSuppress treats an empty config as no change; another value replaces", () => {
    expect(ctr({ workingDir: "/opt/app", user: "1000:1000" }, {}).op).toBe("same");
    expect(ctr({ workingDir: "/opt/app" }, { workingDir: "/srv" }).op).toBe("replace");
  });

  it("capabilities compare as sets: order does not matter, a new capability replaces", () => {
    expect(ctr({ capabilities: [{ adds: ["CAP_CHOWN", "CAP_FOWNER"], drops: ["ALL"] }] }, { capabilities: { adds: ["CAP_FOWNER", "CAP_CHOWN"], drops: ["ALL"] } }).op).toBe("same");
    expect(ctr({ capabilities: [{ adds: [], drops: ["ALL"] }] }, { capabilities: { adds: ["NET_RAW"], drops: ["ALL"] } }).op).toBe("replace");
  });

  it("a field with a schema Default absent from config means the default: must_run false in state against no config is an update that starts it", () => {
    expect(ctr({ mustRun: false }, {}).changes.map((c) => `${c.field}:${c.action}`)).toEqual(["mustRun:update"]);
    expect(ctr({ mustRun: true, restart: "no", networkMode: "bridge" }, {}).op).toBe("same");
    expect(ctr({ networkMode: "host" }, {}).op).toBe("replace");
  });

  it("an input the model has no rule for is an error, never silently equal", () => {
    expect(() => ctr({}, { somethingNew: 1 })).toThrow(/no diff rule/);
  });

  it("an unknown input (computed from a resource being replaced) is a change", () => {
    expect(ctr({ image: "sha256:a" }, { image: "(known after apply)" }).op).toBe("replace");
  });
});

describe("resource_docker_container_funcs.go create checks", () => {
  const mounts = [{ type: "volume", source: "v", target: "/d", volumeOptions: { noCopy: true } }];
  it("refuses any volume_options on an API below 1.45, with or without a subpath", () => {
    expect(containerCreateChecks({ mounts }, "1.41")).toMatch(/requires docker version 1\.45/);
    expect(containerCreateChecks({ mounts }, "1.45")).toBeUndefined();
    expect(containerCreateChecks({ mounts: [{ type: "volume", source: "v", target: "/d" }] }, "1.41")).toBeUndefined();
  });
});

describe("resource_docker_container_funcs.go Read of a stopped container", () => {
  it("records exit_code and sets must_run false (the next up plans an update that starts it)", () => {
    const inspect = {
      Name: "/x", Image: "sha256:i", State: { Running: false, ExitCode: 3 },
      Config: { Hostname: "x", Domainname: "", User: "1:1", WorkingDir: "", Tty: false, OpenStdin: false, Image: "sha256:i" },
      HostConfig: { Memory: 64 * 1024 * 1024, NanoCpus: 5e8, RestartPolicy: { Name: "no", MaximumRetryCount: 0 } },
    } as unknown as Dockerode.ContainerInspectInfo;
    const s = readContainer(inspect, { image: "sha256:i", mustRun: true });
    expect(s).toMatchObject({ exitCode: 3, mustRun: false, memory: 64, cpus: "0.5" });
    expect(ctr(s, { name: "x", image: "sha256:i", mustRun: true, memory: 64, cpus: "0.5" }).changes.map((c) => `${c.field}:${c.action}`)).toEqual(["mustRun:update"]);
  });
});

describe("resource_docker_network.go: every field ForceNew", () => {
  it("an option change replaces the network; the same options in another order do not", () => {
    const state = { name: "n", options: { a: "1", b: "2" }, ipamConfigs: [{ subnet: "10.0.0.0/28", ipRange: "", gateway: "", auxAddress: {} }] };
    expect(diffByRules(NETWORK_RULES, "n", state, { name: "n", options: { b: "2", a: "1" }, ipamConfigs: [{ subnet: "10.0.0.0/28" }] }).op).toBe("same");
    expect(diffByRules(NETWORK_RULES, "n", state, { name: "n", options: { a: "0", b: "2" } }).op).toBe("replace");
  });
});

describe("cyrilgdn resource_postgresql_grant.go / _database.go; terraform-provider-random", () => {
  const grant = POSTGRES_RULES["postgresql:index/grant:Grant"]!;
  it("grant privileges are an updatable Set; objects force replacement", () => {
    expect(diffByRules(grant, "g", { role: "r", privileges: ["SELECT", "INSERT"] }, { role: "r", privileges: ["INSERT", "SELECT"] }).op).toBe("same");
    expect(diffByRules(grant, "g", { role: "r", privileges: ["SELECT"] }, { role: "r", privileges: ["SELECT", "INSERT"] }).op).toBe("update");
    expect(diffByRules(grant, "g", { role: "r", objects: ["a"] }, { role: "r", objects: ["b"] }).op).toBe("replace");
  });
  it("a database rename is an update; a new template replaces", () => {
    const db = POSTGRES_RULES["postgresql:index/database:Database"]!;
    expect(diffByRules(db, "d", { name: "a", template: "template0" }, { name: "b", template: "template0" }).op).toBe("update");
    expect(diffByRules(db, "d", { name: "a", template: "template0" }, { name: "a", template: "template1" }).op).toBe("replace");
  });
  it("every random argument forces replacement", () => {
    const r = randomRules("random:index/randomPassword:RandomPassword", { length: 40 });
    expect(diffByRules(r, "p", { length: 40 }, { length: 41 }).op).toBe("replace");
    expect(diffByRules(r, "p", { length: 40 }, { length: 40 }).op).toBe("same");
  });
});
