// Check what is forwarded, forward what was checked. The router decides on the parsed request
// (model, stream) and the provider acts on the bytes it receives; any difference between the
// two parsers is an allowlist bypass. JSON.parse keeps the LAST of duplicate keys, some
// providers keep the first; Go's encoding/json matches keys case-insensitively (and folds
// U+017F/U+212A); a UTF-16, BOM-prefixed or gzip body is read differently or not at all by the
// router. So the router never forwards the client's bytes: it forwards the JSON re-serialized
// from exactly the value it checked (no duplicate key can survive), in UTF-8, with its own
// content-type and length, and refuses what it cannot read the way a provider would.
import type { IncomingHttpHeaders } from "node:http";
import type { ProviderApi } from "@octw/contracts";

export type CheckedBody =
  | { ok: true; model: string; stream: boolean; forward: Buffer }
  | { ok: false; status: 400 | 415; reason: BodyRefusal; message: string };

export type BodyRefusal = "invalid_json" | "missing_model" | "ambiguous_field" | "invalid_stream" | "unsupported_media_type" | "unsupported_encoding" | "invalid_header";

/** Top-level fields the router decides on. A key that folds to one of these but is spelled otherwise is refused. */
const DECIDING_FIELDS = ["model", "stream"] as const;

/** What a case-insensitive or Unicode-folding parser would take a key for (NFKC maps U+017F → s, U+212A → K). */
export function foldKey(key: string): string {
  return key.normalize("NFKC").toLowerCase();
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** True when every number in the value is finite (JSON.parse turns 1e400 into Infinity, which re-serializes as null). */
function allFinite(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "number" && !Number.isFinite(v)) return false;
    if (v !== null && typeof v === "object") for (const x of Object.values(v as Record<string, unknown>)) stack.push(x);
  }
  return true;
}

/**
 * Reads a request body the way the router will forward it. The content-type, if sent, must
 * be JSON in UTF-8; no content-encoding; valid UTF-8 (a leading BOM is dropped); a JSON
 * object whose `model` is a non-empty string, whose `stream` (if any) is a boolean, and no
 * other top-level key that folds to `model` or `stream`.
 */
export function checkBody(headers: IncomingHttpHeaders, body: Buffer): CheckedBody {
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && String(encoding).trim().toLowerCase() !== "identity") {
    return { ok: false, status: 415, reason: "unsupported_encoding", message: "content-encoding is not accepted: send the JSON body uncompressed" };
  }
  const type = headers["content-type"];
  if (type !== undefined) {
    const [media, ...params] = type.split(";").map((p) => p.trim().toLowerCase());
    const charsetOk = params.every((p) => p === "" || p === "charset=utf-8" || p === 'charset="utf-8"');
    if (media !== "application/json" || !charsetOk) {
      return { ok: false, status: 415, reason: "unsupported_media_type", message: "content-type must be application/json (UTF-8)" };
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(fatalUtf8.decode(body));
  } catch {
    return { ok: false, status: 400, reason: "invalid_json", message: "the body must be a JSON object in UTF-8" };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return { ok: false, status: 400, reason: "invalid_json", message: "the body must be a JSON object in UTF-8" };
  const obj = json as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const folded = foldKey(k);
    const field = DECIDING_FIELDS.find((f) => f === folded);
    if (field !== undefined && k !== field) {
      return { ok: false, status: 400, reason: "ambiguous_field", message: `a top-level key reads as "${field}" to some parsers but is spelled otherwise; use exactly "${field}"` };
    }
  }
  const { model, stream } = obj;
  if (typeof model !== "string" || model.length === 0) return { ok: false, status: 400, reason: "missing_model", message: "the body must name a model" };
  if (stream !== undefined && typeof stream !== "boolean") return { ok: false, status: 400, reason: "invalid_stream", message: "stream must be true or false" };
  if (!allFinite(obj)) return { ok: false, status: 400, reason: "invalid_json", message: "a number in the body is out of range" };
  let text: string;
  try {
    text = JSON.stringify(obj);
  } catch {
    // Too deeply nested to re-serialize: nothing a provider needs.
    return { ok: false, status: 400, reason: "invalid_json", message: "the body is nested too deeply" };
  }
  return { ok: true, model, stream: stream === true, forward: Buffer.from(text, "utf8") };
}

/**
 * Client headers that may reach the provider, each with the form it must have. An allowlist:
 * whatever credential-bearing header a sandbox invents (Authorization, x-api-key, api-key,
 * cookies, openai-organization/-project, which pick the billed account, proxy headers, …) is
 * dropped because it is not here; a listed header with another form is refused, not passed.
 * content-type is not on it: the router sends its own (it re-serialized the body).
 */
const PASSED: Record<ProviderApi, Readonly<Record<string, RegExp>>> = {
  openai: {
    accept: /^[A-Za-z0-9*/.+=;, -]{1,256}$/,
    "user-agent": /^[\x20-\x7e]{1,256}$/,
    "openai-beta": /^[A-Za-z0-9._=,-]{1,128}$/,
    "idempotency-key": /^[A-Za-z0-9._:-]{1,256}$/,
  },
  anthropic: {
    accept: /^[A-Za-z0-9*/.+=;, -]{1,256}$/,
    "user-agent": /^[\x20-\x7e]{1,256}$/,
    "anthropic-version": /^\d{4}-\d{2}-\d{2}$/,
    "anthropic-beta": /^[A-Za-z0-9._-]{1,64}(,\s?[A-Za-z0-9._-]{1,64}){0,15}$/,
  },
};

export const DEFAULT_ANTHROPIC_VERSION = "2023-06-01";

/** The client headers to pass, checked; or the name of the first one that is not of its form. */
export function passedHeaders(api: ProviderApi, clientHeaders: IncomingHttpHeaders): { ok: true; headers: Record<string, string> } | { ok: false; header: string } {
  const out: Record<string, string> = {};
  for (const [name, form] of Object.entries(PASSED[api])) {
    const v = clientHeaders[name];
    if (v === undefined) continue;
    // node joins repeated headers with ", " (or keeps an array for set-cookie): one value or nothing.
    if (typeof v !== "string" || !form.test(v)) return { ok: false, header: name };
    out[name] = v;
  }
  return { ok: true, headers: out };
}

/** Headers for the upstream request: the checked client headers, the router's framing, the tenant's key. */
export function upstreamHeaders(api: ProviderApi, passed: Record<string, string>, key: string, bodyLength: number, host: string): Record<string, string> {
  const out: Record<string, string> = { ...passed };
  out["content-type"] = "application/json";
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
