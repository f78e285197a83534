// The two request shapes the router speaks (OpenAI-compatible and Anthropic-compatible): which
// paths exist, where the model is named, how the key is sent upstream, which client headers
// may pass, and what an error looks like to that shape's SDKs.
import { validateHeaderName, validateHeaderValue } from "node:http";
import type { ProviderApi } from "@octw/contracts";

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

/**
 * Upstream response headers not passed to the sandbox: hop-by-hop, cookies, and framing. The
 * router frames every response it sends itself (chunked, or its own content-length), so a
 * provider's duplicate, conflicting or lying length never reaches a client.
 */
const DROPPED_RESPONSE = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-authenticate", "proxy-connection", "upgrade", "trailer", "te", "set-cookie", "set-cookie2", "alt-svc", "content-length", "date"]);
/** At most this many headers of the provider are relayed (node already bounds their total size). */
const MAX_RELAYED_HEADERS = 64;

/** Whether Node would accept this header when the router writes it (writeHead throws otherwise). */
function writable(name: string, value: string): boolean {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

export function downstreamHeaders(raw: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  let count = 0;
  for (let i = 0; i + 1 < raw.length && count < MAX_RELAYED_HEADERS; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (DROPPED_RESPONSE.has(name) || !writable(name, value)) continue;
    count++;
    const prev = out[name];
    out[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
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
