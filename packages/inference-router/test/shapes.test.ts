import { describe, expect, it } from "vitest";
import { downstreamHeaders, errorBody, parseRouterPath, redactKey, streamErrorEvent } from "../src/shapes";

describe("paths", () => {
  it("splits /<provider>/v1/... and drops the query", () => {
    expect(parseRouterPath("/openai/v1/chat/completions?x=1")).toEqual({ provider: "openai", rest: "/v1/chat/completions" });
    expect(parseRouterPath("/claude/v1/messages")).toEqual({ provider: "claude", rest: "/v1/messages" });
  });
  it("refuses traversal, encoded segments and paths outside /v1", () => {
    for (const p of ["/openai/v1/../admin", "/openai/v1/%2e%2e/x", "/openai/v2/chat", "/v1/chat/completions", "/OpenAI/v1/x", "//openai/v1/x"]) expect(parseRouterPath(p)).toBeUndefined();
  });
});

describe("response headers", () => {
  it("hop-by-hop, cookies and the provider's framing dropped", () => {
    expect(downstreamHeaders(["Content-Type", "text/event-stream", "Set-Cookie", "a=1", "Connection", "keep-alive", "x-request-id", "r1", "Content-Length", "5", "Transfer-Encoding", "chunked"])).toEqual({ "content-type": "text/event-stream", "x-request-id": "r1" });
  });
  it("a header node would refuse to write is dropped, not thrown (positive control: the valid one passes)", () => {
    const raw = ["x-ok", "fine", "bad name", "v", "x-ctl", "a\u0000b", "x-nl", "a\nb", "x-ok2", "caf\u00e9"];
    expect(downstreamHeaders(raw)).toEqual({ "x-ok": "fine", "x-ok2": "caf\u00e9" });
  });
  it("at most 64 headers are relayed", () => {
    const raw = Array.from({ length: 200 }, (_, i) => [`x-h${i}`, "v"]).flat();
    expect(Object.keys(downstreamHeaders(raw))).toHaveLength(64);
  });
});

describe("errors and redaction", () => {
  it("each shape's error format", () => {
    expect(errorBody("openai", 403, "model_not_allowed", "no")).toEqual({ error: { message: "no", type: "invalid_request_error", code: "octw_model_not_allowed" } });
    expect(errorBody("anthropic", 429, "rate_limited", "slow")).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(streamErrorEvent("anthropic", "x", "m")).toMatch(/^event: error\ndata: \{"type":"error"/);
    expect(streamErrorEvent("openai", "x", "m")).toMatch(/^data: \{"error":/);
  });
  it("removes the whole key and any 6+ character fragment of it", () => {
    const key = "sk-proj-abcdefghijklmnop1234";
    const out = redactKey(`bad key ${key}; hint: sk-pro...p1234 and ghijkl`, key);
    expect(out).not.toContain(key);
    expect(out).not.toContain("ghijkl");
    expect(out).not.toContain("op1234");
    expect(out).toContain("bad key [redacted]");
    expect(redactKey("nothing here", key)).toBe("nothing here");
  });
});
