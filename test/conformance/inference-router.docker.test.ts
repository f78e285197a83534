// The inference router's image on real Docker networks (not yet the realized stack: the
// platform does not declare the router yet). Two internal tenant networks with the router at
// offset .3 of each, a client container on each, a fake model provider container (run by
// this test, recording the Authorization header it receives) on a third network, and the keys
// sealed in a real Postgres (tenant_secrets), which the router reaches through a relay the
// test binds on that network's bridge address.
//
// Needs: DOCKER_HOST, OCTW_TEST_PG_URL, OCTW_IMAGE_OPENCLAW (node for the fake provider and
// the clients), OCTW_IMAGE_INFERENCE_ROUTER (images/inference-router). Missing = failure.
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { TenantSecrets } from "@octw/audit";
import type Dockerode from "dockerode";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditDb, type TestAuditDb } from "../../packages/audit/test/pg-support";
import { pgRelay, type PgRelay } from "../support/pg-relay";
import { renderOpenClawConfig } from "@octw/pulumi";
import { openclawModelsConfig, parseInferencePolicy, routerTokenDigest } from "@octw/contracts";
import { engine, requireEnv } from "./env";
import { execIn, nodeProbe } from "./probe-exec";

const RUN = `octwt-ir-${randomBytes(3).toString("hex")}`;
const NET = { a: "10.250.1.0/27", b: "10.250.1.32/27", up: "10.250.2.0/28" };
const ADDR = { routerA: "10.250.1.3", clientA: "10.250.1.5", routerB: "10.250.1.35", clientB: "10.250.1.37", upGateway: "10.250.2.1", provider: "10.250.2.2", routerUp: "10.250.2.3" };
const TOKEN_A = randomBytes(24).toString("hex");
const TOKEN_B = randomBytes(24).toString("hex");
const KEY_A = `sk-A-${randomBytes(16).toString("hex")}`;
const KEY_B = `sk-B-${randomBytes(16).toString("hex")}`;
const ROUTER_UID = 10003;
const HARDENING = { ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], Tmpfs: { "/tmp": "rw,nosuid,nodev,noexec,size=64m" } };

// The fake provider: records what it receives; answers in OpenAI's chat-completions format,
// as JSON or as SSE (5 deltas, 150 ms apart), so a real OpenClaw agent can use it too.
const PROVIDER = `
const http = require("http"); const calls = [];
const base = m => ({ id: "c1", created: 1, model: m });
http.createServer((req, res) => {
  if (req.url === "/__calls") { res.end(JSON.stringify(calls)); return; }
  let b = ""; req.on("data", c => b += c); req.on("end", () => {
    let j = {}; try { j = JSON.parse(b); } catch {}
    calls.push({ path: req.url, authorization: req.headers.authorization || null, xApiKey: req.headers["x-api-key"] || null, model: j.model });
    if (j.stream) {
      res.writeHead(200, { "content-type": "text/event-stream" }); res.flushHeaders();
      const words = ["po", "ng", " from", " the", " provider"]; let i = 0;
      const t = setInterval(() => {
        res.write("data: " + JSON.stringify({ ...base(j.model), object: "chat.completion.chunk", choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: words[i] } : { content: words[i] }, finish_reason: null }] }) + "\\n\\n");
        if (++i === words.length) { clearInterval(t);
          res.write("data: " + JSON.stringify({ ...base(j.model), object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 5, total_tokens: 6 } }) + "\\n\\n");
          res.end("data: [DONE]\\n\\n"); }
      }, 150);
      res.on("close", () => clearInterval(t));
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ...base(j.model), object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "pong from the provider" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 5, total_tokens: 6 } }));
    }
  });
}).listen(8080, "0.0.0.0");`;

// A client inside a tenant network: one request, prints status, body, and when each chunk came.
const CLIENT = `
const [host, token, model, stream] = process.argv.slice(1);
const t0 = Date.now(); const times = []; let body = "";
const req = require("http").request({ host, port: 8080, method: "POST", path: "/openai/v1/chat/completions", timeout: 15000,
  headers: { authorization: "Bearer " + token, "content-type": "application/json" } }, res => {
  res.on("data", c => { times.push(Date.now() - t0); body += c; });
  res.on("end", () => console.log(JSON.stringify({ status: res.statusCode, body, times, complete: res.complete })));
  res.on("error", e => console.log(JSON.stringify({ status: res.statusCode, body, times, complete: false, error: e.message })));
  res.on("aborted", () => {});
});
req.on("error", e => console.log(JSON.stringify({ status: 0, error: e.code || e.message, body, times, complete: false })));
req.on("timeout", () => req.destroy(new Error("timeout")));
req.end(JSON.stringify({ model, stream: stream === "1", messages: [{ role: "user", content: "hi" }] }));`;

interface ClientResult {
  status: number;
  body: string;
  times: number[];
  complete: boolean;
  error?: string;
}

let docker: Dockerode;
let db: TestAuditDb;
let relay: PgRelay;
let dir: string;
const containers: Record<string, Dockerode.Container> = {};
const networks: Dockerode.Network[] = [];

async function run(name: string, opts: Dockerode.ContainerCreateOptions): Promise<Dockerode.Container> {
  const c = await docker.createContainer({ name: `${RUN}-${name}`, Labels: { "octw.test": RUN }, ...opts });
  containers[name] = c;
  return c;
}

async function connect(c: Dockerode.Container, net: Dockerode.Network, ip: string): Promise<void> {
  await net.connect({ Container: c.id, EndpointConfig: { IPAMConfig: { IPv4Address: ip } } });
}

const client = (who: "clientA" | "clientB", host: string, token: string, model: string, stream = false) =>
  nodeProbe<ClientResult>(docker, containers[who]!.id, CLIENT, [host, token, model, stream ? "1" : "0"], { timeoutMs: 30_000 });

async function providerCalls(): Promise<{ path: string; authorization: string | null; xApiKey: string | null; model: string }[]> {
  const r = await execIn(docker, containers.provider!.id, ["/usr/local/bin/node", "-e", 'require("http").get("http://127.0.0.1:8080/__calls", r => { let b = ""; r.on("data", c => b += c); r.on("end", () => console.log(b)); })']);
  return JSON.parse(r.stdout.trim()) as never;
}

async function routerHealthy(timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const i = await containers.router!.inspect();
    if (i.State.Health?.Status === "healthy") return;
    if (!i.State.Running && i.State.Status !== "restarting" && i.State.Status !== "created") throw new Error(`router exited: ${i.State.Status} ${i.State.ExitCode}`);
    if (Date.now() > end) throw new Error(`router not healthy after ${timeoutMs} ms (${i.State.Health?.Status})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  docker = await engine();
  const openclawImage = requireEnv("OCTW_IMAGE_OPENCLAW");
  const routerImage = requireEnv("OCTW_IMAGE_INFERENCE_ROUTER");
  db = await createAuditDb();
  const pool = new pg.Pool({ connectionString: db.ownerUrl, max: 1 }); // the operator stores keys
  const keyring = [{ version: 1, key: randomBytes(32) }];
  const secrets = new TenantSecrets({ db: pool, keyring });
  await secrets.set("a", "openai/api-key", KEY_A);
  await secrets.set("b", "openai/api-key", KEY_B);
  await pool.end();

  for (const [key, subnet] of Object.entries(NET)) {
    networks.push(await docker.createNetwork({ Name: `${RUN}-${key}`, Driver: "bridge", Internal: key !== "up", Labels: { "octw.test": RUN }, IPAM: { Config: [{ Subnet: subnet }] }, Options: key === "up" ? {} : { "com.docker.network.bridge.inhibit_ipv4": "true" } }));
  }
  const [netA, netB, netUp] = networks as [Dockerode.Network, Dockerode.Network, Dockerode.Network];
  // Postgres for the router: a relay on the provider network's bridge address (an interface this test created).
  relay = await pgRelay(new URL(db.routerUrl), ADDR.upGateway);

  dir = mkdtempSync(path.join(tmpdir(), "ir-conf-"));
  const secretsDir = path.join(dir, "secrets");
  mkdirSync(secretsDir);
  writeFileSync(path.join(secretsDir, "db-url"), relay.url(db.routerUrl));
  writeFileSync(path.join(secretsDir, "master-keyring"), `1:${keyring[0]!.key.toString("base64")}\n`);
  for (const f of ["db-url", "master-keyring"]) {
    chownSync(path.join(secretsDir, f), ROUTER_UID, ROUTER_UID);
    chmodSync(path.join(secretsDir, f), 0o400);
  }
  chownSync(secretsDir, ROUTER_UID, ROUTER_UID);
  chmodSync(secretsDir, 0o500);
  const provider = { name: "openai", api: "openai", baseUrl: `http://${ADDR.provider}:8080` };
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({
    tenants: [
      { id: "a", routerAddress: ADDR.routerA, subnet: NET.a, tokenSha256: routerTokenDigest(TOKEN_A), providers: [{ ...provider, models: ["gpt-a"] }] },
      { id: "b", routerAddress: ADDR.routerB, subnet: NET.b, tokenSha256: routerTokenDigest(TOKEN_B), providers: [{ ...provider, models: ["gpt-b"] }] },
    ],
    // The fake provider is plain http on a test network: the router's test-only hatch (its env var is set below).
    allowInsecureProvidersForTests: [`${ADDR.provider}/32`],
    limits: { shutdownGraceMs: 300 },
    keys: { cacheTtlMs: 1_000, maxStaleMs: 120_000 },
  }));
  chmodSync(path.join(dir, "config.json"), 0o444);
  chmodSync(dir, 0o755);

  const node = (name: string, script: string, net: Dockerode.Network, ip: string) =>
    run(name, { Image: openclawImage, User: "10010:10010", Cmd: ["/usr/local/bin/node", "-e", script], HostConfig: { ...HARDENING, NetworkMode: net.id }, NetworkingConfig: { EndpointsConfig: { [net.id]: { IPAMConfig: { IPv4Address: ip } } } } });
  await node("provider", PROVIDER, netUp, ADDR.provider);
  await node("clientA", "setInterval(() => {}, 1e9)", netA, ADDR.clientA);
  await node("clientB", "setInterval(() => {}, 1e9)", netB, ADDR.clientB);
  const router = await run("router", {
    Image: routerImage,
    User: `${ROUTER_UID}:${ROUTER_UID}`,
    Env: ["OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS=1"],
    HostConfig: {
      ...HARDENING,
      Tmpfs: { ...HARDENING.Tmpfs, "/var/lib/octw-inference-router": `rw,nosuid,nodev,noexec,mode=0700,uid=${ROUTER_UID},gid=${ROUTER_UID}` },
      Binds: [`${path.join(dir, "config.json")}:/etc/octw-inference-router/config.json:ro`, `${secretsDir}:/run/secrets/octw-inference-router:ro`],
      NetworkMode: netA.id,
    },
    NetworkingConfig: { EndpointsConfig: { [netA.id]: { IPAMConfig: { IPv4Address: ADDR.routerA } } } },
  });
  await connect(router, netB, ADDR.routerB);
  await connect(router, netUp, ADDR.routerUp);
  for (const c of Object.values(containers)) await c.start();
  await routerHealthy();
}, 180_000);

afterAll(async () => {
  for (const c of Object.values(containers)) await c.remove({ force: true }).catch(() => {});
  for (const n of networks) await n.remove().catch(() => {});
  await relay?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("inference router on real tenant networks", () => {
  it("A's call from A's network reaches the provider with A's key; B's with B's", async () => {
    const a = await client("clientA", ADDR.routerA, TOKEN_A, "gpt-a");
    expect(a.status).toBe(200);
    const b = await client("clientB", ADDR.routerB, TOKEN_B, "gpt-b");
    expect(b.status).toBe(200);
    const calls = await providerCalls();
    expect(calls.map((c) => [c.model, c.authorization])).toEqual([["gpt-a", `Bearer ${KEY_A}`], ["gpt-b", `Bearer ${KEY_B}`]]);
  });

  it("B's token from A's network is refused; a model not on A's list is refused; nothing reaches the provider", async () => {
    const before = (await providerCalls()).length;
    const stolen = await client("clientA", ADDR.routerA, TOKEN_B, "gpt-a");
    expect(stolen.status).toBe(403);
    expect(stolen.body).toContain("token_of_other_tenant");
    const model = await client("clientA", ADDR.routerA, TOKEN_A, "gpt-b");
    expect(model.status).toBe(403);
    expect(model.body).toContain("model_not_allowed");
    expect((await providerCalls()).length).toBe(before);
  });

  it("A cannot reach the router's address on B's network, nor the provider (positive control: A reaches its own router address)", async () => {
    const own = await client("clientA", ADDR.routerA, TOKEN_A, "gpt-a");
    expect(own.status).toBe(200);
    const other = await client("clientA", ADDR.routerB, TOKEN_A, "gpt-a");
    expect(other.status).toBe(0);
    const provider = await client("clientA", ADDR.provider, KEY_A, "gpt-a");
    expect(provider.status).toBe(0);
  });

  it("a streamed response arrives incrementally inside A's network", async () => {
    const r = await client("clientA", ADDR.routerA, TOKEN_A, "gpt-a", true);
    expect(r.status).toBe(200);
    expect(r.body).toContain("[DONE]");
    const events = r.times.length;
    expect(events).toBeGreaterThanOrEqual(5);
    // Events 150 ms apart at the provider arrive spread out, not all at the end.
    expect(r.times.at(-1)! - r.times[0]!).toBeGreaterThan(450);
  });

  it("nothing of B's key is observable from A: replies, errors, environment, files", async () => {
    const replies = [await client("clientA", ADDR.routerA, TOKEN_A, "gpt-a"), await client("clientA", ADDR.routerA, TOKEN_B, "gpt-b"), await client("clientA", ADDR.routerA, "nope", "gpt-b")];
    for (const r of replies) {
      expect(r.body).not.toContain(KEY_B);
      expect(r.body).not.toContain(KEY_A);
    }
    const env = await execIn(docker, containers.clientA!.id, ["/usr/bin/env"]);
    expect(env.stdout).not.toContain(KEY_B);
    const grep = await execIn(docker, containers.clientA!.id, ["/usr/bin/grep", "-rl", "--", KEY_B.slice(0, 20), "/tmp", "/etc", "/opt"]);
    expect(grep.stdout).toBe("");
    // The router's own environment holds no key either (keys come from Postgres, at request time).
    const routerEnv = (await containers.router!.inspect()).Config.Env.join("\n");
    expect(routerEnv).not.toContain(KEY_A);
    expect(routerEnv).not.toContain("postgres://");
  });

  it("a real OpenClaw agent turn in A's network goes through the router, configured by openclawModelsConfig (token from a file SecretRef)", async () => {
    const state = "/tmp/oc";
    const inference = parseInferencePolicy({ providers: [{ name: "openai", api: "openai", baseUrl: "https://provider.invalid", models: ["gpt-a"] }] });
    const config = {
      ...(JSON.parse(renderOpenClawConfig({ edgeAddress: "10.250.1.2", allowedOrigins: ["https://a.localhost"] })) as Record<string, unknown>),
      ...openclawModelsConfig({ routerAddress: ADDR.routerA, tokenFile: `${state}/.octw/router-token`, inference }),
      agents: { defaults: { model: { primary: "openai/gpt-a" } } },
    };
    const setup = await execIn(docker, containers.clientA!.id, ["/usr/local/bin/node", "-e", `
      const fs = require("fs"); const [dir, cfg, tok] = process.argv.slice(1);
      fs.mkdirSync(dir + "/.octw", { recursive: true, mode: 0o700 });
      fs.writeFileSync(dir + "/openclaw.json", Buffer.from(cfg, "base64"));
      fs.writeFileSync(dir + "/.octw/router-token", tok, { mode: 0o400 });`, "--", state, Buffer.from(JSON.stringify(config)).toString("base64"), TOKEN_A]);
    expect(setup.exitCode).toBe(0);
    const before = (await providerCalls()).length;
    const env = [`OPENCLAW_STATE_DIR=${state}`, `HOME=${state}`, "XDG_CACHE_HOME=/tmp/.cache", "OPENCLAW_OFFLINE=1", "OPENCLAW_NO_AUTO_UPDATE=1", "OPENCLAW_DISABLE_BONJOUR=1"];
    const turn = await execIn(docker, containers.clientA!.id, ["openclaw", "agent", "--local", "--json", "--timeout", "90", "-m", "Reply with one word."], { env, timeoutMs: 240_000 });
    const calls = (await providerCalls()).slice(before);
    expect(calls.length, `${turn.stdout.slice(-800)}\n${turn.stderr.slice(-800)}`).toBeGreaterThan(0);
    for (const c of calls) {
      expect(c.authorization).toBe(`Bearer ${KEY_A}`);
      expect(c.model).toBe("gpt-a");
    }
    expect(turn.stdout).toContain("pong from the provider");
    // The token is all A's agent holds; the provider saw A's key, never the token.
    expect(JSON.stringify(calls)).not.toContain(TOKEN_A);
  }, 300_000);

  it("Postgres unreachable: cached keys keep serving", async () => {
    expect((await client("clientA", ADDR.routerA, TOKEN_A, "gpt-a")).status).toBe(200);
    await relay.cut();
    await new Promise((r) => setTimeout(r, 1_500)); // past cacheTtlMs: the background refresh fails
    const r = await client("clientA", ADDR.routerA, TOKEN_A, "gpt-a");
    expect(r.status).toBe(200);
    expect((await providerCalls()).at(-1)!.authorization).toBe(`Bearer ${KEY_A}`);
    await relay.restore();
  });

  it("router restart during an open stream: the client gets a clean error, the next request works", async () => {
    const streaming = client("clientA", ADDR.routerA, TOKEN_A, "gpt-a", true);
    await new Promise((r) => setTimeout(r, 300));
    await containers.router!.restart({ t: 5 });
    const cut = await streaming;
    expect(cut.status).toBe(200);
    expect(cut.complete).toBe(false);
    expect(cut.body).toContain("octw_router_restarting");
    await routerHealthy();
    const next = await client("clientA", ADDR.routerA, TOKEN_A, "gpt-a");
    expect(next.status).toBe(200);
  });
});
