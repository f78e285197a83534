import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeEvent } from "../src/event";

const ok = { tenant: "acme", actor: "user-1", action: "edge.auth.allowed" };

describe("normalizeEvent", () => {
  it("fills in time and a unique idempotency key", () => {
    const a = normalizeEvent(ok);
    const b = normalizeEvent(ok);
    expect(a.idempotencyKey).not.toBe(b.idempotencyKey);
    expect(Number.isNaN(Date.parse(a.time))).toBe(false);
    expect(a).toMatchObject({ target: null, decision: null, details: null });
  });

  it("keeps given values and normalises time to ISO UTC", () => {
    const e = normalizeEvent({ ...ok, time: "2026-01-02T03:04:05+02:00", idempotencyKey: "k1", details: { a: 1, d: new Date(0) } });
    expect(e.time).toBe("2026-01-02T01:04:05.000Z");
    expect(e.idempotencyKey).toBe("k1");
    expect(e.details).toEqual({ a: 1, d: "1970-01-01T00:00:00.000Z" });
  });

  it.each([
    [{ ...ok, tenant: "" }, /tenant: must be 1-128/],
    [{ ...ok, tenant: "a b" }, /tenant:/],
    [{ ...ok, action: "Denied" }, /action: must be a dotted lowercase verb/],
    [{ ...ok, action: "edge" }, /action:/],
    [{ ...ok, actor: "" }, /actor: must not be empty/],
    [{ ...ok, actor: "a\u0000b" }, /actor: must not contain NUL/],
    [{ ...ok, details: { x: "a\u0000" } }, /details: must not contain NUL/],
    [{ ...ok, details: { x: "y".repeat(70_000) } }, /details: must serialise to at most/],
    [{ ...ok, time: "not a date" }, /time: must be a valid date/],
    [{ ...ok, idempotencyKey: "has space" }, /idempotencyKey:/],
    [{ ...ok, extra: 1 }, /event: Unrecognized key/i],
  ])("rejects %j naming the field", (input, message) => {
    expect(() => normalizeEvent(input as never)).toThrow(message);
  });

  // The NUL check looks at the JSON text first and walks the value only when the text has the
  // escape \u0000 — which text can also hold literally (a backslash, then "u0000"), so both
  // kinds of string are generated, in keys and values, nested in objects and arrays.
  it("rejects details exactly when a key or string anywhere holds U+0000 (property)", () => {
    const piece = fc.constantFrom("a", "\u0000", "\\u0000", "\\", "u0000", "ü", "\\\u0000");
    const str = fc.array(piece, { maxLength: 4 }).map((p) => p.join(""));
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small" }, str, fc.integer(), fc.constant(null), fc.array(tie("value"), { maxLength: 3 }), tie("object")),
      object: fc.dictionary(str, tie("value"), { maxKeys: 3 }),
    }));
    fc.assert(
      fc.property(json.object, (details) => {
        let hasNul = false;
        JSON.stringify(details, (k, v: unknown) => {
          if (k.includes("\u0000") || (typeof v === "string" && v.includes("\u0000"))) hasNul = true;
          return v;
        });
        if (hasNul) {
          expect(() => normalizeEvent({ ...ok, details })).toThrow(/details: must not contain NUL/);
        } else {
          expect(normalizeEvent({ ...ok, details }).details).toEqual(JSON.parse(JSON.stringify(details)));
        }
      }),
      { numRuns: 500 },
    );
  });
});
