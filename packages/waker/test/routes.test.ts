import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { route, tokenMatches } from "../src/routes";

const TOKEN = "t".repeat(20) + "0123456789abcdefghij";
const AUTH = `Bearer ${TOKEN}`;

describe("waker routes", () => {
  it("routes exactly the two operations, with their defaults", () => {
    expect(route("POST", "/tenants/alpha/wake", AUTH, TOKEN)).toEqual({ kind: "wake", tenant: "alpha", waitFor: "healthy", reason: "request" });
    expect(route("POST", "/tenants/alpha/wake?wait=running&reason=websocket", AUTH, TOKEN)).toEqual({ kind: "wake", tenant: "alpha", waitFor: "running", reason: "websocket" });
    expect(route("POST", "/tenants/a-1/suspend?tier=paused", AUTH, TOKEN)).toEqual({ kind: "suspend", tenant: "a-1", tier: "paused", reason: "idle" });
    expect(route("POST", "/tenants/a-1/suspend?tier=stopped&reason=operator", AUTH, TOKEN)).toEqual({ kind: "suspend", tenant: "a-1", tier: "stopped", reason: "operator" });
    expect(route("POST", "/tenants/a-1/suspend?tier=stopped&horizonS=600", AUTH, TOKEN)).toEqual({ kind: "suspend", tenant: "a-1", tier: "stopped", reason: "idle", horizonS: 600 });
  });

  it("authenticates before anything else: no token, a wrong token or another scheme is 401 on every path", () => {
    for (const auth of [undefined, "", `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, `bearer ${TOKEN}`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN.slice(1)}`]) {
      for (const target of ["/tenants/alpha/wake", "/nope", "/containers/json"]) {
        const r = route("POST", target, auth, TOKEN);
        expect(r, `${String(auth)} ${target}`).toMatchObject({ kind: "refused", status: 401 });
      }
    }
    // positive control: the same requests with the right token are not 401
    expect(route("POST", "/tenants/alpha/wake", AUTH, TOKEN).kind).toBe("wake");
    expect(route("POST", "/nope", AUTH, TOKEN)).toMatchObject({ status: 404 });
  });

  it("refuses every other path (Engine API paths included) and every other method", () => {
    for (const target of ["/", "/containers/json", "/v1.41/containers/abc/exec", "/tenants/alpha", "/tenants/alpha/wake/", "/tenants/alpha/start", "/tenants//wake", "/tenants/a/b/wake", "/tenants/alpha/WAKE"]) {
      expect(route("POST", target, AUTH, TOKEN), target).toMatchObject({ kind: "refused", status: 404 });
    }
    for (const method of ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
      expect(route(method, "/tenants/alpha/wake", AUTH, TOKEN), method).toMatchObject({ kind: "refused", status: 405 });
    }
    expect(route("POST", "http://elsewhere/tenants/alpha/wake", AUTH, TOKEN)).toMatchObject({ kind: "refused", status: 400 });
  });

  it("names the field of bad input and never echoes its value", () => {
    const secretish = "s3cr3t-value-XYZ";
    const cases: [string, RegExp][] = [
      [`/tenants/alpha/suspend`, /^tier: is required/],
      [`/tenants/alpha/suspend?tier=${secretish}`, /^tier: must be one of paused, stopped/],
      [`/tenants/alpha/wake?wait=${secretish}`, /^wait: must be one of/],
      [`/tenants/alpha/wake?reason=${secretish}`, /^reason: /],
      [`/tenants/alpha/wake?tier=paused`, /query parameter "tier" is not allowed/],
      [`/tenants/alpha/suspend?tier=paused&tier=stopped`, /tier is given twice/],
      [`/tenants/alpha/suspend?tier=paused&horizonS=${secretish}`, /^horizonS: must be a whole number/],
      [`/tenants/alpha/suspend?tier=paused&horizonS=-1`, /^horizonS: must be a whole number/],
      [`/tenants/alpha/suspend?tier=paused&horizonS=1e9`, /^horizonS: must be a whole number/],
      [`/tenants/alpha/wake?horizonS=5`, /query parameter "horizonS" is not allowed/],
      [`/tenants/Alpha/wake`, /^tenant: /],
      [`/tenants/${encodeURIComponent("../x")}/wake`, /^tenant: /],
    ];
    for (const [target, message] of cases) {
      const r = route("POST", target, AUTH, TOKEN);
      expect(r, target).toMatchObject({ kind: "refused", status: 400 });
      if (r.kind === "refused") {
        expect(r.error, target).toMatch(message);
        expect(r.error).not.toContain(secretish);
      }
    }
  });

  it("property: anything but the two shapes is refused, and an accepted tenant is a DNS label", () => {
    fc.assert(
      fc.property(fc.constantFrom("GET", "POST", "PUT", "DELETE"), fc.string({ maxLength: 80 }), (method, path) => {
        const r = route(method, `/${path}`, AUTH, TOKEN);
        if (r.kind === "refused") return;
        expect(method).toBe("POST");
        expect(r.tenant).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
        expect(new URL(`/${path}`, "http://x").pathname).toBe(`/tenants/${r.tenant}/${r.kind}`);
      }),
      { numRuns: Number(process.env.OCTW_FUZZ_RUNS ?? 300) },
    );
  });

  it("tokenMatches compares the whole token", () => {
    expect(tokenMatches(AUTH, TOKEN)).toBe(true);
    expect(tokenMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
  });
});
