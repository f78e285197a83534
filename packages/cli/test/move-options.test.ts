// The move's options that reach the engine: `--stop-grace` is the seconds a stopping OpenClaw
// gateway gets to drain a running agent turn (move.ts, DEFAULT_STOP_GRACE_S). Bad values are
// refused naming the option and the allowed range, never echoing the value.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_STOP_GRACE_S, MAX_STOP_GRACE_S, stopGraceArg } from "../src/backup/move";
import { octw } from "./run-octw";

const REFUSAL = `--stop-grace: must be a whole number of seconds from 1 to ${MAX_STOP_GRACE_S}`;

describe("--stop-grace", () => {
  it("takes every whole number of seconds from 1 to the maximum", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: MAX_STOP_GRACE_S }), (n) => stopGraceArg(String(n)) === n));
    expect(stopGraceArg(String(DEFAULT_STOP_GRACE_S))).toBe(DEFAULT_STOP_GRACE_S);
  });

  it("refuses anything else, naming the option and the range, not the value", () => {
    for (const v of ["0", String(MAX_STOP_GRACE_S + 1), "-5", "1.5", "", " 30", "30s", "1e3", "0x1f", "Infinity", "NaN", "99999"]) {
      expect(() => stopGraceArg(v), v).toThrow(REFUSAL);
    }
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (v) => {
        const n = Number(v);
        fc.pre(!(/^[0-9]+$/.test(v) && n >= 1 && n <= MAX_STOP_GRACE_S));
        try {
          stopGraceArg(v);
          return false;
        } catch (e) {
          return (e as Error).message === REFUSAL;
        }
      }),
    );
  });

  it("the CLI refuses a bad value before it reaches any engine", async () => {
    const r = await octw(["tenant", "move", "acme", "--to", "b", "--stop-grace", "0"], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(REFUSAL);
    expect(r.stdout).toBe("");
  });
});
