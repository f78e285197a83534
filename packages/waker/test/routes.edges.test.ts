// Edges of the waker's request check (routes.ts) that routes.test.ts did not pin down, found by
// mutation testing (`npm run mutation -- waker/routes`): the bearer header, the path and each
// field are matched whole (no prefix, no suffix), and every refusal says what is allowed.
import { describe, expect, it } from "vitest";
import { route } from "../src/routes";

const TOKEN = "t".repeat(20) + "0123456789abcdefghij";
const AUTH = `Bearer ${TOKEN}`;
const refusal = (method: string, target: string, auth = AUTH) => {
  const r = route(method, target, auth, TOKEN);
  return r.kind === "refused" ? `${r.status} ${r.error}` : r.kind;
};

describe("waker routes: whole matches only", () => {
  it("the Authorization header is exactly `Bearer <token>`: nothing before, nothing after", () => {
    for (const auth of [`xBearer ${TOKEN}`, ` Bearer ${TOKEN}`, `Bearer ${TOKEN} x`, `Bearer ${TOKEN} `, `Bearer ${TOKEN}\tx`, `Token Bearer ${TOKEN}`]) {
      expect(refusal("POST", "/tenants/alpha/wake", auth), JSON.stringify(auth)).toBe("401 missing or wrong bearer token");
    }
    expect(refusal("POST", "/tenants/alpha/wake")).toBe("wake"); // control
  });

  it("the path is exactly /tenants/<id>/<operation>: a prefix before it is no operation", () => {
    for (const target of ["/x/tenants/alpha/wake", "/v1.41/tenants/alpha/suspend?tier=paused", "//tenants/alpha/wake"]) {
      expect(refusal("POST", target), target).toMatch(/^404 no such operation \(allowed: POST \/tenants\/<id>\/wake, POST \/tenants\/<id>\/suspend\?tier=paused\|stopped\)$/);
    }
  });

  it("a tenant id is a whole DNS label: one character is one, a trailing hyphen or other characters are not", () => {
    expect(route("POST", "/tenants/a/wake", AUTH, TOKEN)).toMatchObject({ kind: "wake", tenant: "a" });
    expect(route("POST", `/tenants/${"a".repeat(63)}/wake`, AUTH, TOKEN)).toMatchObject({ kind: "wake" });
    for (const id of ["alpha-", "-alpha", "alpha_x", "alpha.x", "a".repeat(64)]) {
      expect(refusal("POST", `/tenants/${id}/wake`), id).toBe("400 tenant: must be a lower-case DNS label");
    }
  });

  it("a reason is a whole lower-case word, for wake and for suspend", () => {
    for (const [op, q] of [["wake", "?"], ["suspend", "?tier=paused&"]] as const) {
      for (const reason of ["1abc", "-abc", "abc_d", "a".repeat(33)]) {
        expect(refusal("POST", `/tenants/alpha/${op}${q}reason=${reason}`), `${op} ${reason}`).toBe("400 reason: must be a lower-case word of [a-z0-9-], at most 32 characters");
      }
      expect(route("POST", `/tenants/alpha/${op}${q}reason=${"a".repeat(32)}`, AUTH, TOKEN).kind).toBe(op); // control
    }
  });

  it("every refusal says what is allowed; an unknown parameter's name is cut to 40 characters", () => {
    expect(refusal("GET", "/tenants/alpha/wake")).toBe("405 method not allowed (allowed: POST)");
    expect(refusal("POST", "http://elsewhere/tenants/alpha/wake")).toBe("400 request target must be a path");
    expect(refusal("POST", "//[x/tenants/alpha/wake")).toBe("400 unparseable request target");
    expect(refusal("POST", "/tenants/alpha/wake?wait=soon")).toBe("400 wait: must be one of healthy, running");
    expect(refusal("POST", "/tenants/alpha/suspend")).toBe("400 tier: is required (one of paused, stopped)");
    expect(refusal("POST", "/tenants/alpha/wake?tier=paused")).toBe('400 query parameter "tier" is not allowed (allowed: wait, reason)');
    expect(refusal("POST", "/tenants/alpha/suspend?tier=paused&wait=running")).toBe('400 query parameter "wait" is not allowed (allowed: tier, reason, horizonS)');
    const long = "p".repeat(60);
    expect(refusal("POST", `/tenants/alpha/wake?${long}=1`)).toBe(`400 query parameter "${"p".repeat(40)}" is not allowed (allowed: wait, reason)`);
  });
});
