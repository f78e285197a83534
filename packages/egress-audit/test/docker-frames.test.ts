import { describe, expect, it } from "vitest";
import { FrameDecoder, splitTimestamp } from "../src/docker-frames";
import { frame } from "./fake-engine";

describe("Docker multiplexed log frames", () => {
  it("reassembles lines split across frames and frames split across chunks", () => {
    const bytes = Buffer.concat([frame(1, "one\ntw"), frame(2, "err\n"), frame(1, "o\nthree\n")]);
    const d = new FrameDecoder();
    const lines = [];
    for (let i = 0; i < bytes.length; i += 3) lines.push(...d.push(bytes.subarray(i, i + 3)));
    expect(lines).toEqual([
      { stream: "stdout", text: "one" },
      { stream: "stderr", text: "err" },
      { stream: "stdout", text: "two" },
      { stream: "stdout", text: "three" },
    ]);
  });
  it("splits the engine's timestamp prefix", () => {
    expect(splitTimestamp('2026-11-25T10:00:00.123456789Z {"ts":1}')).toEqual({ time: "2026-11-25T10:00:00.123456789Z", text: '{"ts":1}' });
    expect(splitTimestamp("plain")).toEqual({ text: "plain" });
  });
});
