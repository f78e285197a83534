import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OctwConfigError, parsePolicyDocument, planEnforcement } from "../src/index.js";

/** Plans a policy whose `process` holds `ids`; returns the plan or the refusal's problems. */
function plan(process: Record<string, unknown>) {
  try {
    const doc = parsePolicyDocument({ version: 1, filesystem_policy: { read_write: ["/tmp"] }, process }, "t");
    return { plan: planEnforcement(doc, [], "t") };
  } catch (e) {
    if (!(e instanceof OctwConfigError)) throw e;
    return { problems: e.problems };
  }
}

describe("process.run_as_user / run_as_group", () => {
  it("positive control: the names of the allocated id are accepted and mapped", () => {
    const r = plan({ run_as_user: "sandbox", run_as_group: "tenant" });
    expect(r.plan?.mapped).toEqual(["policy.process: the tenant's own allocated UID/GID"]);
  });

  it("a numeric id (number or digit string) is accepted exactly from 1000 to 4294967294, mapped to the allocated id; below or above is refused at the field's path", () => {
    const ids = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 4_294_967_000, max: 4_294_967_400 }), fc.nat());
    fc.assert(
      fc.property(ids, fc.boolean(), fc.constantFrom("run_as_user", "run_as_group"), (n, asString, field) => {
        const r = plan({ [field]: asString ? String(n) : n });
        if (n >= 1000 && n <= 4_294_967_294) {
          expect(r.problems).toBeUndefined();
          expect(r.plan!.mapped).toContain(`policy.process.${field}: a numeric id: the gateway runs as the tenant's own allocated id (uidBase + 4·slot), not as this number`);
          // The number is never carried into the plan: no consumer can run as it.
          expect(JSON.stringify(r.plan!.egress) + JSON.stringify(r.plan!.readWritePaths)).not.toContain(String(n));
        } else {
          expect(r.problems?.map((p) => p.path)).toEqual([`policy.process.${field}`]);
          expect(r.problems![0]!.message).toMatch(n < 1000 ? /below 1000/ : /numeric id from 1000 to 4294967294/);
        }
      }),
    );
  });

  it.each([["-1"], ["1e3"], [" 1500"], ["0x5dc"], [1500.5], [""], ["root"]])("refuses %j as not an id", (v) => {
    const r = plan({ run_as_user: v });
    expect(r.problems?.map((p) => p.path)).toEqual(["policy.process.run_as_user"]);
    expect(r.problems![0]!.message).toMatch(/must be "sandbox", "tenant" or a numeric id/);
  });
});
