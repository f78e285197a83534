// The env var names and defaults are the services' contract with their images and the Pulumi
// components (OCTW_EDGE_CONFIG, OCTW_ROUTER_CONFIG_POLL_MS, OCTW_WAKER_HEARTBEAT, …).
import { describe, expect, it } from "vitest";
import { serviceSettings } from "../src/index";

describe("serviceSettings", () => {
  it("defaults follow the component name", () => {
    const s = serviceSettings("octw-waker", "OCTW_WAKER", {});
    expect(s.configPath).toBe("/etc/octw-waker/config.json");
    expect(s.configPollMs).toBe(2_000);
    expect(s.heartbeat).toEqual({ path: "/tmp/octw-waker.heartbeat", everyMs: 10_000 });
  });

  it("the prefixed env vars override them, and only those", () => {
    const env = { OCTW_ROUTER_CONFIG: "/c.json", OCTW_ROUTER_CONFIG_POLL_MS: "300", OCTW_ROUTER_HEARTBEAT: "/hb", OCTW_EDGE_CONFIG: "/other.json" };
    const s = serviceSettings("octw-inference-router", "OCTW_ROUTER", env);
    expect(s).toMatchObject({ configPath: "/c.json", configPollMs: 300, heartbeat: { path: "/hb", everyMs: 10_000 } });
    expect(serviceSettings("octw-edge", "OCTW_EDGE", env).configPath).toBe("/other.json");
    expect(serviceSettings("octw-egress-audit", "OCTW_EGRESS_AUDIT", env).configPath).toBe("/etc/octw-egress-audit/config.json");
  });
});
