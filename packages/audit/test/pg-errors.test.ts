import { describe, expect, it } from "vitest";
import { isTransientDbError } from "../src/pg-errors";

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("isTransientDbError", () => {
  it.each(["ECONNREFUSED", "ECONNRESET", "57P01", "57P03", "08006", "08001", "53300", "40001"])("retries %s", (code) => {
    expect(isTransientDbError(withCode(code))).toBe(true);
  });
  it("retries a connection dropped mid-query", () => {
    expect(isTransientDbError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isTransientDbError(new Error("timeout exceeded when trying to connect"))).toBe(true);
  });
  it.each(["42501", "23505", "22023", "42883", "28P01"])("does not retry %s", (code) => {
    expect(isTransientDbError(withCode(code, "connection error in message text is ignored when a SQLSTATE says otherwise"))).toBe(false);
  });
  it("does not retry non-errors or unknown errors", () => {
    expect(isTransientDbError("ECONNREFUSED")).toBe(false);
    expect(isTransientDbError(new Error("something else"))).toBe(false);
  });
});
