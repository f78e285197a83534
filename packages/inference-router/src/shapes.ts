// The two request shapes the router speaks (OpenAI-compatible and Anthropic-compatible): which
// paths exist, where the model is named, how the key is sent upstream, which client headers
// may pass, and what an error looks like to that shape's SDKs.
import type { ProviderApi } from "./config";

/** Paths (after `/<provider>`) the router forwards, by shape. Everything else is refused. */
export const FORWARDED_PATHS: Record<ProviderApi, ReadonlySet<string>> = {
  openai: new Set(["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/embeddings"]),
  anthropic: new Set(["/v1/messages", "/v1/messages/count_tokens"]),
};

/** Answered by the router itself from the tenant's allowlist (never forwarded). */
export const MODELS_PATH = "/v1/models";

export interface ParsedPath {
  provider: string;
  /** Path forwarded upstream, e.g. `/v1/chat/completions`. */
  rest: string;
}

/** `/<provider>/v1/...` (query string dropped: none of the forwarded endpoints takes one). */
export function parseRouterPath(url: string | undefined): ParsedPath | undefined {
  const path = (url ?? "").split("?", 1)[0] ?? "";
  const m = /^\/([a-z][a-z0-9-]{0,31})(\/v1(?:\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*)\/?$/.exec(path);
  if (!m) return undefined;
  return { provider: m[1]!, rest: m[2]! };
}

export type BodyResult = { ok: true; model: string; stream: boolean } | { ok: false; reason: "invalid_json" | "missing_model" };

/** Both shapes name the model in the top-level `model` field of a JSON body, and ask for SSE with `stream: true`. */
export function readModel(body: Buffer): BodyResult {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return { ok: false, reason: "invalid_json" };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return { ok: false, reason: "invalid_json" };
  const { model, stream } = json as { model?: unknown; stream?: unknown };
  if (typeof model !== "string" || model.length === 0) return { ok: false, reason: "missing_model" };
  return { ok: true, model, stream: stream === true };
}

/**
 * Client headers that may reach the provider. An allowlist, not a denylist: whatever
 * credential-bearing header a sandbox invents (Authorization, x-api-key, api-key, cookies,
 * x-goog-api-key, proxy headers, …) is dropped because it is not on this list.
 */
const PASSED: Record<ProviderApi, ReadonlySet<string>> = {
  openai: new Set(["content-type", "accept", "user-agent", "openai-beta", "idempotency-key"]),
  anthropic: new Set(["content-type", "accept", "user-agent", "anthropic-version", "anthropic-beta"]),
};

export const DEFAULT_ANTHROPIC_VERSION = "2023-06-01";

/** Headers for the upstream request: the allowed client headers plus the tenant's key. */
export function upstreamHeaders(
  api: ProviderApi,
  clientHeaders: Record<string, string | string[] | undefined>,
  key: string,
  bodyLength: number,
  host: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED[api]) {
    const v = clientHeaders[name];
    if (typeof v === "string" && v.length <= 1024) out[name] = v;
  }
  out["content-type"] ??= "application/json";
  out["content-length"] = String(bodyLength);
  out.host = host;
  if (api === "openai") {
    out.authorization = `Bearer ${key}`;
  } else {
    out["x-api-key"] = key;
    out["anthropic-version"] ??= DEFAULT_ANTHROPIC_VERSION;
  }
  return out;
}

/** Upstream response headers not passed to the sandbox: hop-by-hop, cookies, and lengths the router may change. */
const DROPPED_RESPONSE = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-authenticate", "upgrade", "trailer", "te", "set-cookie", "alt-svc", "content-length"]);

export function downstreamHeaders(raw: readonly string[], keepLength: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (DROPPED_RESPONSE.has(name) && !(keepLength && name === "content-length")) continue;
    const prev = out[name];
    out[name] = prev === undefined ? raw[i + 1]! : [...(Array.isArray(prev) ? prev : [prev]), raw[i + 1]!];
  }
  return out;
}

/** The router's own errors, in the body shape the calling SDK parses. */
export function errorBody(api: ProviderApi, status: number, code: string, message: string): unknown {
  if (api === "anthropic") {
    const type =
      status === 401 ? "authentication_error"
      : status === 403 ? "permission_error"
      : status === 404 ? "not_found_error"
      : status === 413 ? "request_too_large"
      : status === 429 ? "rate_limit_error"
      : status >= 500 ? "api_error"
      : "invalid_request_error";
    return { type: "error", error: { type, message: `${message} (octw-router: ${code})` } };
  }
  return { error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", code: `octw_${code}` } };
}

/** An error event in the middle of an SSE stream, which both shapes' SDKs raise as an error. */
export function streamErrorEvent(api: ProviderApi, code: string, message: string): string {
  if (api === "anthropic") {
    return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message: `${message} (octw-router: ${code})` } })}\n\n`;
  }
  return `data: ${JSON.stringify({ error: { message, type: "server_error", code: `octw_${code}` } })}\n\n`;
}

/** `GET /v1/models` answered from the allowlist, in the shape's list format. */
export function modelsList(api: ProviderApi, models: readonly string[]): unknown {
  if (api === "anthropic") {
    return { data: models.map((id) => ({ type: "model", id, display_name: id })), has_more: false, first_id: models[0] ?? null, last_id: models.at(-1) ?? null };
  }
  return { object: "list", data: models.map((id) => ({ id, object: "model", owned_by: "octw-router" })) };
}

/**
 * Removes every occurrence of the key from an upstream error body. Providers quote (parts
 * of) a rejected key in their 401 messages; the sandbox must never learn even a fragment.
 */
export function redactKey(text: string, key: string): string {
  if (key.length === 0) return text;
  let out = text.split(key).join("[redacted]");
  // Partial quotes ("sk-abc...wxyz"): remove any run of 6+ characters copied from the key.
  if (key.length >= 12) {
    for (let len = Math.min(key.length - 1, 64); len >= 6; len--) {
      for (let i = 0; i + len <= key.length; i++) {
        const piece = key.slice(i, i + len);
        if (out.includes(piece)) out = out.split(piece).join("[redacted]");
      }
    }
  }
  return out;
}
