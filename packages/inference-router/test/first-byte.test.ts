// The client's first byte follows the provider's first byte with nothing buffered in between:
// a provider that sends its first event and then waits must see that event reach the client
// while it is still waiting, whether the response head came alone (flushed) or in the same
// packet as the first event (what most providers do).
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSECURE_PROVIDERS_ENV, parseRouterConfig } from "@octw/contracts";
import { ProviderKeyCache } from "../src/keys";
import { createInferenceRouter, type InferenceRouter } from "../src/server";
import { listenOn, nextChunk, openStream, sha256 } from "./helpers";

const T = { net: "127.0.40.0/27", router: "127.0.40.3", client: "127.0.40.5", token: "router-token-of-first-byte-tenant-0123456789ab" };
process.env[INSECURE_PROVIDERS_ENV] = "1";

/** A provider that sends the head (alone, or with the first event) and then waits for `release`. */
interface HeldStream {
  res: ServerResponse;
  /** True once the provider went on past its first event. */
  continued: boolean;
  release(): void;
}
let held: HeldStream[] = [];
const provider = http.createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const model = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { model: string }).model;
    res.writeHead(200, { "content-type": "text/event-stream" });
    const h: HeldStream = { res, continued: false, release: () => {} };
    const first = () => res.write(`data: {"first":true}\n\n`);
    if (model === "head-alone") {
      res.flushHeaders();
      // The first event comes only on the first release, the rest on the second.
      h.release = () => {
        first();
        h.release = () => {
          h.continued = true;
          res.end("data: [DONE]\n\n");
        };
      };
    } else {
      // Without flushHeaders, Node sends the head and the first event in one write.
      first();
      h.release = () => {
        h.continued = true;
        res.end("data: [DONE]\n\n");
      };
    }
    held.push(h);
  });
});

let router: InferenceRouter;
let listeners: { port: number; close(): Promise<void> };

beforeAll(async () => {
  await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  const config = parseRouterConfig({
    listen: { host: "127.0.0.1", port: 0 },
    allowInsecureProvidersForTests: ["127.0.0.1/32"],
    tenants: [
      {
        id: "fb",
        routerAddress: T.router,
        subnet: T.net,
        tokenSha256: sha256(T.token),
        providers: [{ name: "openai", api: "openai", baseUrl: url, models: ["head-alone", "head-with-first"] }],
      },
    ],
  });
  router = createInferenceRouter(config, {
    keys: new ProviderKeyCache({ get: () => Promise.resolve(Buffer.from("sk-first-byte-key")) }, { cacheTtlMs: 60_000, maxStaleMs: 60_000 }),
    audit: { record: () => Promise.resolve() },
  });
  listeners = await listenOn(router.server, [T.router]);
});
afterAll(async () => {
  await router.close(50);
  await listeners.close();
  provider.closeAllConnections();
  await new Promise<void>((r) => provider.close(() => r()));
});

const open = (model: string) =>
  openStream({ to: T.router, from: T.client, port: listeners.port, path: "/openai/v1/chat/completions", headers: { authorization: `Bearer ${T.token}` }, body: { model, stream: true, messages: [] } });

/** Waits until the provider holds the stream of the request just opened. */
async function heldStream(): Promise<HeldStream> {
  for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const h = held.shift();
  if (!h) throw new Error("the provider never received the request");
  return h;
}

describe("first byte", () => {
  it("head and first event in one packet: the client gets the event while the provider still waits", async () => {
    held = [];
    const res = await open("head-with-first");
    const h = await heldStream();
    expect(res.statusCode).toBe(200);
    expect(await nextChunk(res, 2_000)).toContain(`"first":true`);
    expect(h.continued).toBe(false);
    h.release();
    res.resume();
    await new Promise((r) => res.on("end", r));
  });

  it("head alone: the client gets the head at once, and the first event as soon as it exists", async () => {
    held = [];
    const res = await open("head-alone");
    const h = await heldStream();
    // The head reached the client (openStream resolved) although no event exists yet, and no
    // body byte arrives before the provider writes one: the probe below times out (control).
    expect(res.headers["content-type"]).toBe("text/event-stream");
    await expect(nextChunk(res, 150)).rejects.toThrow(/no chunk within/);
    h.release();
    expect(await nextChunk(res, 2_000)).toContain(`"first":true`);
    expect(h.continued).toBe(false);
    h.release();
    res.resume();
    await new Promise((r) => res.on("end", r));
  });
});
