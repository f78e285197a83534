import { describe, expect, it } from "vitest";
import { downstreamHeaders, errorBody, parseRouterPath, readModel, redactKey, streamErrorEvent, upstreamHeaders } from "../src/shapes";

describe("paths", () => {
  it("splits /<provider>/v1/... and drops the query", () => {
    expect(parseRouterPath("/openai/v1/chat/completions?x=1")).toEqual({ provider: "openai", rest: "/v1/chat/completions" });
    expect(parseRouterPath("/claude/v1/messages")).toEqual({ provider: "claude", rest: "/v1/messages" });
  });
  it("refuses traversal, encoded segments and paths outside /v1", () => {
    for (const p of ["/openai/v1/../admin", "/openai/v1/%2e%2e/x", "/openai/v2/chat", "/v1/chat/completions", "/OpenAI/v1/x", "//openai/v1/x"]) expect(parseRouterPath(p)).toBeUndefined();
  });
});

describe("bodies", () => {
  it("reads model and stream flag", () => {
    expect(readModel(Buffer.from('{"model":"m","stream":true}'))).toEqual({ ok: true, model: "m", stream: true });
    expect(readModel(Buffer.from('{"model":"m"}'))).toEqual({ ok: true, model: "m", stream: false });
    expect(readModel(Buffer.from('{"model":7}'))).toEqual({ ok: false, reason: "missing_model" });
    expect(readModel(Buffer.from("[1]"))).toEqual({ ok: false, reason: "invalid_json" });
    expect(readModel(Buffer.from("{"))).toEqual({ ok: false, reason: "invalid_json" });
  });
});

describe("headers", () => {
  const client = { authorization: "Bearer router-token", "x-api-key": "router-token", "api-key": "k", cookie: "c", "content-type": "application/json", "anthropic-beta": "b", "openai-beta": "o", "x-forwarded-for": "1.2.3.4", host: "evil" };
  it("OpenAI: only allowlisted client headers, the tenant key as Bearer, the provider's host", () => {
    expect(upstreamHeaders("openai", client, "sk-1", 10, "api.example.test")).toEqual({
      "content-type": "application/json", "openai-beta": "o", "content-length": "10", host: "api.example.test", authorization: "Bearer sk-1",
    });
  });
  it("Anthropic: the key as x-api-key, a default anthropic-version", () => {
    expect(upstreamHeaders("anthropic", client, "sk-2", 3, "h")).toEqual({
      "content-type": "application/json", "anthropic-beta": "b", "content-length": "3", host: "h", "x-api-key": "sk-2", "anthropic-version": "2023-06-01",
    });
  });
  it("response: hop-by-hop and cookies dropped", () => {
    expect(downstreamHeaders(["Content-Type", "text/event-stream", "Set-Cookie", "a=1", "Connection", "keep-alive", "x-request-id", "r1", "Content-Length", "5"], false)).toEqual({ "content-type": "text/event-stream", "x-request-id": "r1" });
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
