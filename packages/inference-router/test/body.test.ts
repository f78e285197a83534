// Check what is forwarded, forward what was checked: whatever bytes a sandbox sends, the
// provider receives a body in which EVERY reading of `model` (last key wins as in JSON.parse,
// first key wins as in some providers, case-insensitive/folding as in Go's encoding/json) gives
// the model the router allowed and audited — or the request is refused and nothing is sent.
import { gzipSync } from "node:zlib";
import http from "node:http";
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkBody, foldKey, passedHeaders } from "../src/body";
import { INSECURE_PROVIDERS_ENV, parseRouterConfig } from "@octw/contracts";
import { ProviderKeyCache } from "../src/keys";
import { createInferenceRouter, type InferenceRouter } from "../src/server";
import { call, fakeProvider, listenOn, sha256, type FakeProvider } from "./helpers";

process.env[INSECURE_PROVIDERS_ENV] = "1";
const RUNS = Number(process.env.OCTW_FUZZ_RUNS ?? 100);

/** Top-level [key, raw JSON value] pairs of a JSON object text, in order, duplicates kept (the test's own scanner). */
function topLevelEntries(text: string): [string, unknown][] {
  const out: [string, unknown][] = [];
  let i = text.indexOf("{") + 1;
  const skipWs = () => {
    while (/\s/.test(text[i] ?? "")) i++;
  };
  const readString = () => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const readValue = () => {
    const start = i;
    let depth = 0;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') {
        readString();
        i--;
        continue;
      }
      if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        if (depth === 0) break;
        depth--;
      } else if (c === "," && depth === 0) break;
    }
    return JSON.parse(text.slice(start, i)) as unknown;
  };
  for (;;) {
    skipWs();
    if (text[i] === "}") return out;
    const key = readString();
    skipWs();
    i++; // ':'
    skipWs();
    out.push([key, readValue()]);
    skipWs();
    if (text[i] === ",") i++;
  }
}

/** Every way a provider might read `model` out of the forwarded text. */
function readings(text: string): unknown[] {
  const entries = topLevelEntries(text);
  const exact = entries.filter(([k]) => k === "model").map(([, v]) => v);
  const folded = entries.filter(([k]) => foldKey(k) === "model").map(([, v]) => v);
  return [(JSON.parse(text) as { model?: unknown }).model, exact[0], exact.at(-1), folded[0], folded.at(-1)];
}

const modelKey = fc.constantFrom("model", "Model", "MODEL", "mod\\u0065l", "\\u006dodel", "mode\\u004c", "model ", "moel");
const streamKey = fc.constantFrom("stream", "Stream", "\\u017ftream", "STREAM");
const otherKey = fc.constantFrom("messages", "max_tokens", "temperature", "metadata", "__proto__", "constructor");
const model = fc.constantFrom("allowed-model", "forbidden-model", "", "ALLOWED-MODEL");
const value = fc.oneof(fc.constant("[]"), fc.constant('{"model":"forbidden-model"}'), fc.integer().map(String), fc.constant("true"), fc.constant("1e400"), fc.constant('"true"'), fc.constant("null"));
/** Raw JSON text with duplicate, escaped, case-folded and nested keys as a hostile client writes it. */
const hostileText = fc
  .array(
    fc.oneof(
      fc.tuple(modelKey, model.map((m) => JSON.stringify(m))),
      fc.tuple(streamKey, fc.constantFrom("true", "false", '"yes"', "1")),
      fc.tuple(otherKey, value),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((entries) => `{${entries.map(([k, v]) => `"${k}":${v}`).join(",")}}`);

describe("checkBody (property)", () => {
  it("what it forwards is canonical JSON of what it checked: every reading of model is the checked model", () => {
    fc.assert(
      fc.property(hostileText, fc.boolean(), (text, bom) => {
        const bytes = Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(text)]);
        const r = checkBody({ "content-type": "application/json" }, bytes);
        if (!r.ok) return true;
        const fwd = r.forward.toString("utf8");
        expect(fwd).toBe(JSON.stringify(JSON.parse(fwd)));
        for (const m of readings(fwd)) expect(m).toBe(r.model);
        const s = (JSON.parse(fwd) as { stream?: unknown }).stream;
        expect(s === undefined || typeof s === "boolean").toBe(true);
        expect(r.stream).toBe(s === true);
        return true;
      }),
      { numRuns: RUNS * 10 },
    );
  });
  it("positive control: the scanner does see a duplicate the raw text carries, and the clean body passes", () => {
    expect(readings('{"model":"a","model":"b"}')).toEqual(["b", "a", "b", "a", "b"]);
    const r = checkBody({}, Buffer.from('{"model":"forbidden","model":"allowed"}'));
    expect(r).toMatchObject({ ok: true, model: "allowed" });
    expect(r.ok && r.forward.toString()).toBe('{"model":"allowed"}');
  });
  const refused: [string, Record<string, string>, Buffer, string][] = [
    ["a case variant of model", {}, Buffer.from('{"model":"allowed","Model":"forbidden"}'), "ambiguous_field"],
    ["a Unicode-folding variant of stream (U+017F)", {}, Buffer.from('{"model":"a","\\u017ftream":true}'), "ambiguous_field"],
    ["a string stream flag", {}, Buffer.from('{"model":"a","stream":"true"}'), "invalid_stream"],
    ["a UTF-16 body", { "content-type": "application/json; charset=utf-16" }, Buffer.from('{"model":"a"}', "utf16le"), "unsupported_media_type"],
    ["a UTF-16 body without a charset", {}, Buffer.from('\ufeff{"model":"a"}', "utf16le"), "invalid_json"],
    ["invalid UTF-8", {}, Buffer.from([0x7b, 0x22, 0x6d, 0xff, 0x22, 0x7d]), "invalid_json"],
    ["a gzip body", { "content-encoding": "gzip" }, gzipSync('{"model":"a"}'), "unsupported_encoding"],
    ["text/plain", { "content-type": "text/plain" }, Buffer.from('{"model":"a"}'), "unsupported_media_type"],
    ["a number that re-serializes as null", {}, Buffer.from('{"model":"a","temperature":1e400}'), "invalid_json"],
  ];
  for (const [name, headers, body, reason] of refused) {
    it(`refuses ${name}`, () => expect(checkBody(headers, body)).toMatchObject({ ok: false, reason }));
  }
  it("client headers: only listed ones, each of its form", () => {
    expect(passedHeaders("anthropic", { "anthropic-version": "2023-06-01", "anthropic-beta": "a-1,b-2", "openai-organization": "org" })).toEqual({ ok: true, headers: { "anthropic-version": "2023-06-01", "anthropic-beta": "a-1,b-2" } });
    expect(passedHeaders("anthropic", { "anthropic-version": "2023-06-01\u0000x" })).toEqual({ ok: false, header: "anthropic-version" });
    expect(passedHeaders("openai", { "openai-organization": "org-x", "openai-project": "p", "content-type": "application/json; charset=utf-16", cookie: "c" })).toEqual({ ok: true, headers: {} });
  });
});

describe("through the router: the provider gets what was checked", () => {
  const A = { net: "127.0.14.0/27", router: "127.0.14.3", client: "127.0.14.5", token: "router-token-of-tenant-a-body-0123456789abcdef" };
  let provider: FakeProvider;
  let router: InferenceRouter;
  let listeners: { port: number; close(): Promise<void> };
  const events: Record<string, unknown>[] = [];
  beforeAll(async () => {
    provider = await fakeProvider();
    router = createInferenceRouter(
      parseRouterConfig({
        listen: { host: "127.0.0.1", port: 0 },
        allowInsecureProvidersForTests: ["127.0.0.1/32"],
        tenants: [{ id: "a", routerAddress: A.router, subnet: A.net, tokenSha256: sha256(A.token), providers: [{ name: "openai", api: "openai", baseUrl: provider.url, models: ["allowed-model"] }], limits: { rate: { ratePerSec: 10_000, burst: 10_000 }, maxConcurrent: 50 } }],
      }),
      {
        keys: new ProviderKeyCache({ get: () => Promise.resolve(Buffer.from("sk-body-test-key-000000")) }, { cacheTtlMs: 60_000, maxStaleMs: 60_000 }),
        audit: { record: (e) => (events.push({ ...e }), Promise.resolve()) },
      },
    );
    listeners = await listenOn(router.server, [A.router]);
  });
  afterAll(async () => {
    await router.close(100);
    await listeners.close();
    await provider.close();
  });
  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    call({ to: A.router, from: A.client, port: listeners.port, path: "/openai/v1/chat/completions", headers: { authorization: `Bearer ${A.token}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers }, body: typeof body === "string" ? body : body.toString("latin1") });

  it("hostile bodies: refused with nothing sent, or forwarded with every reading of model allowed (property)", async () => {
    let forwarded = 0;
    let refusedCount = 0;
    await fc.assert(
      fc.asyncProperty(hostileText, async (text) => {
        const before = provider.calls.length;
        const r = await post(text);
        if (r.status >= 400) {
          refusedCount++;
          expect(provider.calls.length).toBe(before);
          return;
        }
        forwarded++;
        expect(provider.calls.length).toBe(before + 1);
        const got = provider.calls.at(-1)!;
        for (const m of readings(got.body)) expect(m).toBe("allowed-model");
        expect(got.headers["content-type"]).toBe("application/json");
        expect(Number(got.headers["content-length"])).toBe(Buffer.byteLength(got.body));
      }),
      // One plainly allowed and one plainly refused body always run first: generated bodies alone
      // sometimes contained no forwardable one, and the coverage check below then failed by chance.
      { numRuns: RUNS, examples: [['{"model":"allowed-model","messages":[{"role":"user","content":"hi"}]}'], ["not json"]] },
    );
    // Both outcomes happened: the property tested forwarding, not only refusals.
    expect(forwarded).toBeGreaterThan(0);
    expect(refusedCount).toBeGreaterThan(0);
  });

  it("first key forbidden, last allowed: the provider sees only the allowed one (positive control for the property)", async () => {
    const r = await post('{"model":"forbidden-model","messages":[],"model":"allowed-model"}');
    expect(r.status).toBe(200);
    expect(provider.calls.at(-1)!.body).toBe('{"model":"allowed-model","messages":[]}');
  });

  it("a chunked body with trailers: the provider gets the re-serialized body with a length, no trailer", async () => {
    const before = provider.calls.length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: A.router, port: listeners.port, localAddress: A.client, method: "POST", path: "/openai/v1/chat/completions", agent: false, headers: { authorization: `Bearer ${A.token}`, "content-type": "application/json", trailer: "x-model" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.write('{"model":');
      req.addTrailers({ "x-model": "forbidden-model" });
      req.end('"allowed-model"}');
    });
    expect(status).toBe(200);
    const got = provider.calls[before]!;
    expect(got.body).toBe('{"model":"allowed-model"}');
    expect(got.headers["transfer-encoding"]).toBeUndefined();
    expect(got.headers.trailer).toBeUndefined();
    expect(got.headers["x-model"]).toBeUndefined();
  });

  it("bytes past the declared length are not part of the body (they are read as another request and refused)", async () => {
    const before = provider.calls.length;
    const body = '{"model":"allowed-model"}';
    const smuggled = 'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 27\r\n\r\n{"model":"forbidden-model"}';
    const raw = `POST /openai/v1/chat/completions HTTP/1.1\r\nhost: r\r\nauthorization: Bearer ${A.token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}${smuggled}`;
    const text = await new Promise<string>((resolve) => {
      const s = connect({ host: A.router, port: listeners.port, localAddress: A.client });
      let out = "";
      s.on("data", (d: Buffer) => (out += d.toString()));
      s.on("error", () => resolve(out));
      s.on("close", () => resolve(out));
      s.write(raw);
      setTimeout(() => s.end(), 300);
    });
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(provider.calls.slice(before).map((c) => c.body)).toEqual([body]);
    expect(text).toContain("octw_missing_token");
  });
});
