// Whether a request is forwarded, decided in this order — draining → audit backlog → network →
// rate → token → path → provider → method → body/model → concurrency → key. The first check
// that fails is the answer; the call's record learns the tenant, provider and model as the
// checks establish them, so a refusal is audited with what was known when it was refused.
import type { IncomingMessage } from "node:http";
import type { ProviderApi, ProviderConfig, RouterTenantConfig } from "@octw/contracts";
import { label, type CallRecord } from "./call-audit";
import { KeyUnavailableError, type ProviderKeyCache } from "./keys";
import { FORWARDED_PATHS, MODELS_PATH, parseRouterPath } from "./shapes";
import { checkBody, passedHeaders } from "./body";
import { checkToken, tenantByNetwork } from "./tenancy";
import type { RouterState } from "./router-state";

export type Decision =
  /** Answer with an error in the `api`'s shape. */
  | { kind: "refuse"; api: ProviderApi; status: number; reason: string; message: string; headers?: Record<string, string> }
  /** Answer the models list of the tenant's provider. */
  | { kind: "models"; provider: ProviderConfig }
  /** The client went away while its body was read: nobody to answer. */
  | { kind: "aborted" }
  /** The body outgrew the limit: answered, and the connection closed (the rest is not read). */
  | { kind: "too_large"; api: ProviderApi; maxBytes: number }
  /** Forward `body` with `headers` and the tenant's `key`; `done` gives back the concurrency slot. */
  | { kind: "forward"; tenantId: string; provider: ProviderConfig; rest: string; headers: Record<string, string>; body: Buffer; key: string; done: () => void };

export interface DecideDeps {
  state: RouterState;
  keys: Pick<ProviderKeyCache, "get">;
  /** Calls recorded but not yet stored. */
  auditPending: () => number;
  log: (line: Record<string, unknown>) => void;
}

export async function decide(req: IncomingMessage, rec: CallRecord, deps: DecideDeps): Promise<Decision> {
  const { state } = deps;
  const config = state.config;
  const parsed = parseRouterPath(req.url);
  // Until the provider is known, errors use the OpenAI shape (the more common SDK).
  let api: ProviderApi = "openai";
  const refuse = (status: number, reason: string, message: string, headers?: Record<string, string>): Decision => ({ kind: "refuse", api, status, reason, message, ...(headers ? { headers } : {}) });

  if (state.draining) return refuse(503, "shutting_down", "the router is restarting; retry");
  if (deps.auditPending() >= config.audit.bufferMax) return refuse(503, "audit_unavailable", "the router cannot record calls right now; retry later");

  const table = state.table;
  const net = tenantByNetwork(table, req.socket.localAddress, req.socket.remoteAddress);
  if (!net.ok) return refuse(403, net.reason, "requests are accepted only from a tenant network, at the router's address on it");
  const tenant: RouterTenantConfig = net.tenant;
  rec.tenant = tenant.id;
  const provider: ProviderConfig | undefined = parsed ? tenant.providers.find((p) => p.name === parsed.provider) : undefined;
  if (provider) api = provider.api;

  const rate = state.limiter.rate(tenant.id, tenant.limits.rate);
  if (!rate.ok) return refuse(429, "rate_limited", "request rate limit of this tenant exceeded", { "retry-after": String(rate.retryAfterSec) });

  const tok = checkToken(table, tenant, req.headers);
  if (!tok.ok) {
    const status = tok.reason === "missing_token" || tok.reason === "invalid_token" ? 401 : 403;
    return refuse(status, tok.reason, status === 401 ? "a valid router token is required" : "the router token does not belong to this network's tenant");
  }
  if (!parsed) return refuse(404, "unknown_path", "use /<provider>/v1/...");
  rec.provider = parsed.provider;
  if (!provider) return refuse(403, "provider_not_allowed", `provider "${label(parsed.provider)}" is not allowed for this tenant`);

  if (parsed.rest === MODELS_PATH && (req.method === "GET" || req.method === "HEAD")) return { kind: "models", provider };
  if (!FORWARDED_PATHS[provider.api].has(parsed.rest)) return refuse(404, "unknown_path", `${parsed.rest} is not an endpoint the router forwards for a ${provider.api}-compatible provider`);
  if (req.method !== "POST") return refuse(405, "method_not_allowed", "use POST", { allow: "POST" });

  const body = await readBody(req, config.limits.maxBodyBytes);
  if (body === "aborted") return { kind: "aborted" };
  if (body === "too_large") return { kind: "too_large", api, maxBytes: config.limits.maxBodyBytes };
  rec.requestBytes = body.length;
  // What is forwarded is what was checked: the body re-serialized from the parsed value, and
  // only client headers of a checked form (src/body.ts).
  const m = checkBody(req.headers, body);
  if (!m.ok) return refuse(m.status, m.reason, m.message);
  const passed = passedHeaders(provider.api, req.headers);
  if (!passed.ok) return refuse(400, "invalid_header", `header ${passed.header} is not of the form the router forwards`);
  rec.model = m.model;
  rec.stream = m.stream;
  if (!provider.models.includes(m.model)) return refuse(403, "model_not_allowed", `model "${label(m.model)}" is not allowed for this tenant`);

  const release = state.limiter.acquire(tenant.id, tenant.limits.maxConcurrent);
  if (!release) return refuse(429, "concurrency_limited", "too many requests of this tenant in flight", { "retry-after": "1" });
  state.inFlight++;
  const done = () => {
    release();
    state.inFlight--;
  };
  let key: string;
  try {
    key = await deps.keys.get(tenant.id, provider.keySecret);
  } catch (err) {
    done();
    const reason = err instanceof KeyUnavailableError && err.cause_ === "not_found" ? "key_not_stored" : "key_unavailable";
    deps.log({ msg: "provider key unavailable", tenant: tenant.id, provider: provider.name, reason });
    return refuse(503, reason, "the tenant's provider key is not available");
  }
  return { kind: "forward", tenantId: tenant.id, provider, rest: parsed.rest, headers: passed.headers, body: m.forward, key, done };
}

/** The request body, read up to `max` bytes (the declared length is refused up front when larger). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | "too_large" | "aborted"> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > max) return Promise.resolve("too_large");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    req.on("data", (c: Buffer) => {
      if (done) return;
      n += c.length;
      if (n > max) {
        done = true;
        resolve("too_large");
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!done) resolve(Buffer.concat(chunks, n));
      done = true;
    });
    req.on("error", () => {
      if (!done) resolve("aborted");
      done = true;
    });
    req.on("aborted", () => {
      if (!done) resolve("aborted");
      done = true;
    });
  });
}
