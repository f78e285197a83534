// Inference routing on the realized stack: OpenClawPlatform with two tenants whose policies have
// an `inference` section, applied to the engine by the realizing mock. The model provider is a
// fake run by this test on OCTW_TEST_OUTSIDE_ADDR (an address the test environment created),
// recording the Authorization header it receives. The tenants' provider keys are stored in the
// platform's own AuditStore (tenant_secrets) with its master key, as an operator would with
// `octw secrets set`. Every probe runs inside a tenant's real OpenClaw gateway container, as
// the gateway's own user, with the router token file the platform delivered.
//
// Needs: DOCKER_HOST, OCTW_TEST_OUTSIDE_ADDR and the images OPENCLAW, EGRESS, POSTGRES,
// INFERENCE_ROUTER. Missing = failure.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { readEvents, type StoredEvent } from "@octw/audit";
import { OpenClawPlatform, ROUTER_TOKEN_PATH } from "@octw/pulumi";
import type Dockerode from "dockerode";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRealizingMocks, newRunId, type RealizingMocks } from "../realize/index";
import { engine, imagesFromEnv, requireEnv, valueOf } from "./env";
import { storeProviderKeys } from "./tenant-keys";
import { until } from "./until";
import { execIn, nodeProbe } from "./probe-exec";

const runId = newRunId();
const prefix = `octw-${runId}`;
const hh = (parseInt(runId.slice(-2), 16) % 200) + 20;
const KEYS = { alpha: `sk-alpha-${randomBytes(16).toString("hex")}`, bravo: `sk-bravo-${randomBytes(16).toString("hex")}` };

interface ProviderCall {
  authorization: string | null;
  model: string;
  from: string;
}

// A request from inside a gateway: token from the file (or an argument), prints status, body, chunk times.
const CALL = `
const fs = require("fs"); const [host, port, tokenArg, model, stream, n] = process.argv.slice(1);
const token = tokenArg === "-" ? fs.readFileSync(${JSON.stringify(ROUTER_TOKEN_PATH)}, "utf8").trim() : tokenArg;
const t0 = Date.now(); const times = []; let body = "";
const req = require("http").request({ host, port: Number(port), method: "POST", path: "/openai/v1/chat/completions", timeout: 20000,
  headers: { authorization: "Bearer " + token, "content-type": "application/json" } }, res => {
  res.on("data", c => { times.push(Date.now() - t0); body += c; });
  res.on("end", () => console.log(JSON.stringify({ status: res.statusCode, body, times, complete: res.complete })));
  res.on("error", e => console.log(JSON.stringify({ status: res.statusCode, body, times, complete: false, error: e.message })));
});
req.on("error", e => console.log(JSON.stringify({ status: 0, error: e.code || e.message, body, times, complete: false })));
req.on("timeout", () => req.destroy(new Error("timeout")));
req.end(JSON.stringify({ model, stream: stream === "1", max_tokens: Number(n), messages: [{ role: "user", content: "hi" }] }));`;

interface CallResult {
  status: number;
  body: string;
  times: number[];
  complete: boolean;
  error?: string;
}

let dk: Dockerode;
let rm: RealizingMocks | undefined;
let provider: http.Server;
let providerPort = 0;
const calls: ProviderCall[] = [];
let platform: OpenClawPlatform;
const gw: Record<string, { id: string; user: string; router: string }> = {};

/** The fake provider (OpenAI chat-completions: JSON, or SSE with max_tokens (default 5) deltas 150 ms apart). */
async function startProvider(address: string): Promise<void> {
  provider = http.createServer((req, res) => {
    let b = "";
    req.on("data", (c: Buffer) => (b += c.toString()));
    req.on("end", () => {
      let j: { model?: string; stream?: boolean; max_tokens?: number } = {};
      try {
        j = JSON.parse(b) as typeof j;
      } catch {
        /* recorded as is */
      }
      calls.push({ authorization: req.headers.authorization ?? null, model: String(j.model), from: req.socket.remoteAddress ?? "" });
      if (j.stream) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.flushHeaders();
        let i = 0;
        const t = setInterval(() => {
          res.write(`data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: j.model, choices: [{ index: 0, delta: { content: `w${i}` }, finish_reason: null }] })}\n\n`);
          if (++i === (j.max_tokens || 5)) {
            clearInterval(t);
            res.end("data: [DONE]\n\n");
          }
        }, 150);
        res.on("close", () => clearInterval(t));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "c", object: "chat.completion", model: j.model, choices: [{ index: 0, message: { role: "assistant", content: "pong" }, finish_reason: "stop" }] }));
    });
  });
  await new Promise<void>((r) => provider.listen(0, address, r));
  providerPort = (provider.address() as AddressInfo).port;
}

const call = (tenant: "alpha" | "bravo", opts: { token?: string; model: string; stream?: boolean; events?: number; host?: string; port?: number }) =>
  nodeProbe<CallResult>(dk, gw[tenant]!.id, CALL, [opts.host ?? gw[tenant]!.router, String(opts.port ?? 8080), opts.token ?? "-", opts.model, opts.stream ? "1" : "0", String(opts.events ?? 5)], { user: gw[tenant]!.user, timeoutMs: 90_000 });

async function containerOf(tenant: string, component: string): Promise<Dockerode.ContainerInfo> {
  const list = await dk.listContainers({ filters: { label: [`octw.tenant=${tenant}`, `octw.component=${component}`] } });
  const mine = list.filter((c) => c.Names.some((n) => n.includes(runId)));
  if (mine.length !== 1) throw new Error(`expected one ${component} container of ${tenant} in run ${runId}, found ${mine.length}`);
  return mine[0]!;
}

beforeAll(async () => {
  dk = await engine();
  const outside = requireEnv("OCTW_TEST_OUTSIDE_ADDR");
  const images = imagesFromEnv("openclaw", "egressProxy", "postgres", "inferenceRouter");
  await startProvider(outside);
  const inference = (model: string) => ({ providers: [{ name: "openai", api: "openai", baseUrl: `http://${outside}:${providerPort}`, models: [model] }], limits: { rate: { ratePerSec: 50, burst: 100 }, maxConcurrent: 8 } });
  rm = createRealizingMocks({ runId, docker: dk, log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
  await pulumi.runtime.setMocks(rm.mocks, "octw-inference-realized", "test", false);
  // The fake provider speaks plain http on a test-owned non-public address: the test-only hatch,
  // which the platform refuses unless this variable is set (no stack sets it).
  process.env.OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS = "1";
  platform = new OpenClawPlatform("p", {
    inferenceRouter: { insecureProvidersForTests: [`${outside}/32`] },
    prefix,
    domain: "octw.test",
    addressPool: `10.244.${hh}.0/24`,
    egressSubnet: `10.245.${hh}.0/24`,
    controlSubnet: `10.246.${hh}.0/28`,
    images,
    tenants: [
      { id: "alpha", slot: 1, policy: { version: 1, inference: inference("gpt-alpha") } },
      { id: "bravo", slot: 2, policy: { version: 1, inference: inference("gpt-bravo") } },
    ],
    audit: { mode: "embedded", databaseName: `${runId}_audit` },
  });
  await rm.settled();

  // The operator stores each tenant's own provider key (what `octw secrets set` does, as the owner).
  await storeProviderKeys(platform, "openai/api-key", KEYS);
  for (const t of ["alpha", "bravo"] as const) {
    const c = await containerOf(t, "gateway");
    const user = (await dk.getContainer(c.Id).inspect()).Config.User;
    gw[t] = { id: c.Id, user, router: platform.plan.tenants.find((p) => p.config.id === t)!.addresses.inferenceRouter };
  }
  for (const t of ["alpha", "bravo"] as const) {
    await until(`router from ${t}`, 180_000, async () => {
      const r = await call(t, { model: `gpt-${t}` });
      return r.status === 200 ? true : undefined;
    });
  }
}, 900_000);

afterAll(async () => {
  await rm?.destroyAll();
  await new Promise<void>((r) => (provider ? provider.close(() => r()) : r()));
}, 300_000);

describe("realized platform: inference through the router", () => {
  it("each tenant's call, made with the token file its gateway holds, reaches the provider with that tenant's own key", async () => {
    calls.length = 0;
    expect((await call("alpha", { model: "gpt-alpha" })).status).toBe(200);
    expect((await call("bravo", { model: "gpt-bravo" })).status).toBe(200);
    expect(calls.map((c) => [c.model, c.authorization])).toEqual([["gpt-alpha", `Bearer ${KEYS.alpha}`], ["gpt-bravo", `Bearer ${KEYS.bravo}`]]);
  });

  it("inference.local (OpenShell's name for the inference route) is the tenant's own router, from that tenant's gateway", async () => {
    calls.length = 0;
    // Control: a name nobody defines does not resolve in the gateway (its DNS is a dead resolver).
    expect((await call("alpha", { model: "gpt-alpha", host: "inference.invalid" })).status).not.toBe(200);
    expect((await call("alpha", { model: "gpt-alpha", host: "inference.local" })).status).toBe(200);
    expect((await call("bravo", { model: "gpt-bravo", host: "inference.local" })).status).toBe(200);
    // Each reached its own router: the provider saw each tenant's own key.
    expect(calls.map((c) => [c.model, c.authorization])).toEqual([["gpt-alpha", `Bearer ${KEYS.alpha}`], ["gpt-bravo", `Bearer ${KEYS.bravo}`]]);
    const hosts = (await execIn(dk, gw.alpha!.id, ["/bin/cat", "/etc/hosts"], { user: gw.alpha!.user })).stdout;
    expect(hosts).toMatch(new RegExp(`^${gw.alpha!.router.replace(/\./g, "\\.")}\\s+inference\\.local$`, "m"));
  });

  it("from alpha's gateway: bravo's token is refused, a model not on alpha's list is refused, nothing reaches the provider", async () => {
    const bravoToken = (await execIn(dk, gw.bravo!.id, ["/bin/cat", ROUTER_TOKEN_PATH], { user: gw.bravo!.user })).stdout.trim();
    expect(bravoToken.length).toBeGreaterThan(20);
    calls.length = 0;
    const stolen = await call("alpha", { token: bravoToken, model: "gpt-alpha" });
    expect(stolen.status).toBe(403);
    expect(stolen.body).toContain("token_of_other_tenant");
    const foreign = await call("alpha", { model: "gpt-bravo" });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toContain("model_not_allowed");
    expect(calls).toHaveLength(0);
    // Positive control: the same gateway with its own token and model is served.
    expect((await call("alpha", { model: "gpt-alpha" })).status).toBe(200);
  });

  it("alpha's gateway cannot reach the provider itself, directly or through its egress proxy (the router can: previous tests)", async () => {
    calls.length = 0;
    const outside = requireEnv("OCTW_TEST_OUTSIDE_ADDR");
    const direct = await call("alpha", { host: outside, port: providerPort, token: KEYS.alpha, model: "gpt-alpha" });
    expect(direct.status).toBe(0);
    const viaProxy = await nodeProbe<{ line: string }>(dk, gw.alpha!.id, `
      const net = require("net"); const [p, target] = process.argv.slice(1); const [h, port] = p.split(":");
      const s = net.connect(Number(port), h); let b = "";
      s.on("connect", () => s.write("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n"));
      s.on("data", d => { b += d; if (b.includes("\\r\\n")) { console.log(JSON.stringify({ line: b.split("\\r\\n")[0] })); s.destroy(); } });
      s.on("error", e => console.log(JSON.stringify({ line: "error " + e.code })));
      s.setTimeout(8000, () => { console.log(JSON.stringify({ line: "timeout" })); s.destroy(); });`,
    [(await valueOf(platform.tenantSummary)).alpha!.proxyUrl.replace("http://", ""), `${outside}:${providerPort}`], { user: gw.alpha!.user });
    expect(viaProxy.line).toMatch(/^HTTP\/1\.1 403/);
    expect(calls).toHaveLength(0);
  });

  it("a streamed response arrives incrementally in alpha's gateway", async () => {
    const r = await call("alpha", { model: "gpt-alpha", stream: true });
    expect(r.status).toBe(200);
    expect(r.body).toContain("[DONE]");
    expect(r.times.length).toBeGreaterThanOrEqual(5);
    expect(r.times.at(-1)! - r.times[0]!).toBeGreaterThan(450);
  });

  it("nothing of bravo's key (or alpha's) is observable from alpha: replies, errors, environment, files, its OpenClaw config", async () => {
    const replies = [await call("alpha", { model: "gpt-alpha" }), await call("alpha", { model: "gpt-bravo" }), await call("alpha", { token: "guess", model: "gpt-alpha" })];
    for (const r of replies) for (const k of Object.values(KEYS)) expect(r.body).not.toContain(k);
    const env = await execIn(dk, gw.alpha!.id, ["/bin/cat", "/proc/self/environ"], { user: gw.alpha!.user });
    for (const k of Object.values(KEYS)) expect(env.stdout).not.toContain(k);
    for (const dir of ["/var/lib/openclaw", "/tmp", "/etc"]) {
      const grep = await execIn(dk, gw.alpha!.id, ["/usr/bin/grep", "-rlsF", "--", KEYS.bravo.slice(0, 24), dir], { user: gw.alpha!.user, timeoutMs: 60_000 });
      expect(grep.stdout, dir).toBe("");
    }
    const cfg = JSON.parse((await execIn(dk, gw.alpha!.id, ["/bin/cat", "/var/lib/openclaw/openclaw.json"], { user: gw.alpha!.user })).stdout) as { models: { providers: Record<string, { baseUrl: string }> } };
    expect(cfg.models.providers.openai!.baseUrl).toBe(`http://${gw.alpha!.router}:8080/openai/v1`);
    expect(JSON.stringify(cfg)).not.toContain(String(providerPort));
  });

  it("alpha's audit reader sees alpha's inference.call events (allowed and denied), without keys or tokens", async () => {
    const readers = await valueOf(platform.auditReaders);
    const r = readers.alpha!;
    let rows: StoredEvent[] = [];
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const c = new pg.Client({ host: r.host, port: r.port, database: r.database, user: r.user, password: r.password });
      await c.connect();
      try {
        rows = (await readEvents(c, { limit: 10_000 })).filter((e) => e.action === "inference.call");
      } finally {
        await c.end();
      }
      if (rows.some((e) => e.decision === "denied") && rows.some((e) => e.decision === "allowed")) break;
      await new Promise((res) => setTimeout(res, 1_000));
    }
    expect(rows.every((e) => e.tenant === "alpha")).toBe(true);
    expect(rows.some((e) => e.decision === "allowed" && (e.details as { model?: string }).model === "gpt-alpha")).toBe(true);
    expect(rows.some((e) => (e.details as { reason?: string }).reason === "token_of_other_tenant")).toBe(true);
    const text = JSON.stringify(rows);
    for (const k of Object.values(KEYS)) expect(text).not.toContain(k);
  });

  it("the router restarting during an open stream: alpha's client gets a clean error, the next request works", async () => {
    // 200 events 150 ms apart (30 s): longer than the router's shutdown grace (10 s).
    const streaming = call("alpha", { model: "gpt-alpha", stream: true, events: 200 });
    await new Promise((r) => setTimeout(r, 1_000));
    const router = (await dk.listContainers({ filters: { label: ["octw.component=inference-router"] } })).find((c) => c.Names.some((n) => n.includes(runId)));
    expect(router).toBeDefined();
    await dk.getContainer(router!.Id).restart({ t: 15 });
    const cut = await streaming;
    expect(cut.status).toBe(200);
    expect(cut.complete).toBe(false);
    expect(cut.body).toContain("octw_router_restarting");
    await until("router after restart", 120_000, async () => ((await call("alpha", { model: "gpt-alpha" })).status === 200 ? true : undefined));
  });
});
