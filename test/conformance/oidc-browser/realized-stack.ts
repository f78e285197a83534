// The realized stack the browser suite drives: OpenClawPlatform with alpha and bravo, realized on
// the engine by the realizing mock — the edge from its image with the platform's OIDC section,
// each tenant's real OpenClaw gateway, the inference router, the embedded AuditStore. Around it,
// what an operator and an organization would have, made by this test on addresses it owns:
//  - the IdP (oidc-provider, https) on the host's address of the platform's ingress network
//    (the edge container reaches it there, by the name in `idpHosts`, trusting its certificate
//    through `idpCaCertificate`);
//  - the TLS terminator in front of the edge ("TLS ends in front of the edge"): port 443 of a
//    loopback address of its own, so the tenant origins are https://<tenant>.octw.test as the
//    gateways' allowed origins say;
//  - the fake model provider on OCTW_TEST_OUTSIDE_ADDR (created by the test environment),
//    reached by the router through the platform's test-only insecure-provider hatch.
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { networkInterfaces } from "node:os";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import * as pulumi from "@pulumi/pulumi";
import type Dockerode from "dockerode";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import pg from "pg";
import { readEvents, type StoredEvent } from "@octw/audit";
import { OpenClawPlatform } from "@octw/pulumi";
import { CLIENT_ID, CLIENT_SECRET, startTestIdp, type TestIdp } from "../../../packages/edge/test/oidc/idp";
import { createRealizingMocks, demuxDockerStream, newRunId, sweepDeadRuns, type RealizingMocks } from "../../realize/index";
import { engine, imagesFromEnv, requireEnv, valueOf } from "../env";
import { storeProviderKeys } from "../tenant-keys";
import { until } from "../until";
import { DOMAIN, TENANT_ROLES, startBrowserKit, testCertificate, type BrowserKit } from "./harness";

export type Tenant = "alpha" | "bravo";

/** One call the fake model provider answered: whose key, the request as sent (the conversation is in it), its answer. */
export interface ProviderCall {
  authorization: string | null;
  model: string;
  body: string;
  answer: string;
}

export interface RealizedBrowserStack {
  dk: Dockerode;
  runId: string;
  prefix: string;
  kit: BrowserKit;
  idp: TestIdp;
  keys: Record<Tenant, string>;
  provider: { calls: ProviderCall[] };
  /** Grants the IdP refused (grant type and error), as oidc-provider reports them. */
  idpGrantErrors: { grantType: string; error: string }[];
  /** Re-check interval of sessions at the IdP (the platform's edge.oidc.recheckS). */
  recheckS: number;
  /** A tenant's audit trail (its newest 100 000 events), read as the operator (the AuditStore's owner). */
  auditEvents(tenant: string): Promise<StoredEvent[]>;
  /** The edge container's log. */
  edgeLog(): Promise<string>;
  close(): Promise<void>;
}

/** The fake provider: OpenAI chat completions (JSON, or SSE when asked to stream), a recognizable answer per call. */
async function startFakeModelProvider(address: string): Promise<{ server: http.Server; port: number; calls: ProviderCall[] }> {
  const calls: ProviderCall[] = [];
  const server = http.createServer((req, res) => {
    let b = "";
    req.on("data", (c: Buffer) => (b += c.toString()));
    req.on("end", () => {
      let j: { model?: string; stream?: boolean } = {};
      try {
        j = JSON.parse(b) as typeof j;
      } catch {
        /* recorded as is */
      }
      const answer = `fake-provider answer ${calls.length + 1}`;
      calls.push({ authorization: req.headers.authorization ?? null, model: String(j.model), body: b, answer });
      const model = String(j.model);
      if (j.stream) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const chunk = (delta: Record<string, unknown>, finish: string | null) =>
          `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.write(chunk({ role: "assistant", content: "" }, null));
        res.write(chunk({ content: answer }, null));
        res.write(chunk({}, "stop"));
        res.write(`data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model, choices: [], usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 } })}\n\n`);
        res.end("data: [DONE]\n\n");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "c1", object: "chat.completion", created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }], usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, address, r));
  return { server, port: (server.address() as AddressInfo).port, calls };
}

/** TLS in front of the edge's published port: bytes through unchanged (HTTP/1.1 and WebSocket upgrades). */
async function startTlsFront(listenHost: string, cert: { cert: string; key: string }, edge: { host: string; port: number }): Promise<tls.Server> {
  const server = tls.createServer({ cert: cert.cert, key: cert.key }, (client) => {
    const upstream = net.connect(edge.port, edge.host);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(443, listenHost, () => resolve());
  });
  return server;
}

export async function startRealizedBrowserStack(o: { shots: string; recheckS: number }): Promise<RealizedBrowserStack> {
  const dk = await engine();
  await sweepDeadRuns(dk);
  const runId = newRunId();
  const prefix = `octw-${runId}`;
  const n = parseInt(runId.slice(1, 5), 16);
  const h = (n % 200) + 20;
  const edgePort = 20_000 + (n % 10_000);
  // The host's address on the platform's ingress network (Docker gives a bridge's first address to the host).
  const ingressHost = `10.228.${h}.1`;
  const front = `127.31.${h}.${(n >> 8) % 250 + 2}`;
  const outside = requireEnv("OCTW_TEST_OUTSIDE_ADDR");
  const images = imagesFromEnv("openclaw", "egressProxy", "postgres", "edge", "inferenceRouter");
  const keys: Record<Tenant, string> = { alpha: `sk-alpha-${randomBytes(16).toString("hex")}`, bravo: `sk-bravo-${randomBytes(16).toString("hex")}` };
  const cert = testCertificate();
  const provider = await startFakeModelProvider(outside);
  const jwtKeys = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(jwtKeys.publicKey)), kid: "probe", alg: "ES256", use: "sig" };
  const closers: (() => Promise<unknown> | void)[] = [() => new Promise<void>((r) => provider.server.close(() => r())), () => cert.remove()];
  let rm: RealizingMocks | undefined;
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
    await rm?.destroyAll();
  };
  try {
    rm = createRealizingMocks({ runId, docker: dk, log: (l) => process.env.OCTW_REALIZE_VERBOSE && console.log(`[realize] ${l}`) });
    await pulumi.runtime.setMocks(rm.mocks, "octw-oidc-browser-realized", "test", false);
    // The fake provider speaks plain http on a test-owned address: the test-only hatch, refused
    // by the platform unless this variable is set (no stack sets it).
    process.env.OCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS = "1";
    const inference = (model: string) => ({ providers: [{ name: "openai", api: "openai", baseUrl: `http://${outside}:${provider.port}`, models: [model] }] });
    const platform = new OpenClawPlatform("ob", {
      prefix,
      domain: DOMAIN,
      addressPool: `10.225.${h}.0/24`,
      egressSubnet: `10.226.${h}.0/24`,
      controlSubnet: `10.227.${h}.0/28`,
      ingressSubnet: `10.228.${h}.0/28`,
      images,
      inferenceRouter: { insecureProvidersForTests: [`${outside}/32`] },
      edge: {
        hostPort: edgePort,
        hostIp: "127.0.0.1",
        jwt: { issuer: "octw-oidc-browser-probe", audience: "octw-edge", algorithms: ["ES256"], jwks: [jwk] },
        oidc: {
          issuer: `https://idp.${DOMAIN}`,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          sessionKey: randomBytes(32).toString("base64url"),
          tenantRoles: TENANT_ROLES,
          // oidc-provider issues refresh tokens for offline_access only with consent.
          prompt: "consent",
          recheckS: o.recheckS,
          idpHosts: [{ host: `idp.${DOMAIN}`, ip: ingressHost }],
          idpCaCertificate: cert.cert,
        },
      },
      tenants: [
        { id: "alpha", slot: 1, policy: { version: 1, inference: inference("gpt-alpha") } },
        { id: "bravo", slot: 2, policy: { version: 1, inference: inference("gpt-bravo") } },
      ],
      audit: { mode: "embedded", databaseName: `${runId}_audit` },
    });
    await rm.settled();
    const bridge = Object.values(networkInterfaces()).flat().some((a) => a?.address === ingressHost);
    if (!bridge) throw new Error(`the host has no address ${ingressHost} (the ingress network's bridge)`);

    await storeProviderKeys(platform, "openai/api-key", keys);
    const operator = await valueOf(platform.audit.owner);

    const idp = await startTestIdp({
      redirectUris: (["alpha", "bravo"] as const).map((t) => `https://${t}.${DOMAIN}/_edge/oidc/callback`),
      postLogoutRedirectUris: (["alpha", "bravo"] as const).map((t) => `https://${t}.${DOMAIN}/_edge/oidc/signed-out`),
      tls: cert,
      listen: { host: ingressHost, port: 443, name: `idp.${DOMAIN}` },
    });
    closers.push(() => idp.close());
    const idpGrantErrors: { grantType: string; error: string }[] = [];
    idp.provider.on("grant.error", (ctx: { oidc?: { params?: { grant_type?: unknown } } }, err: { error?: string }) => {
      idpGrantErrors.push({ grantType: String(ctx.oidc?.params?.grant_type), error: String(err.error) });
    });
    const tlsFront = await startTlsFront(front, cert, { host: "127.0.0.1", port: edgePort });
    closers.push(() => new Promise<void>((r) => tlsFront.close(() => r())));

    // Both gateways answer through the edge (a machine client's bearer token, as OpenClaw's own probes would come).
    for (const t of ["alpha", "bravo"] as const) {
      const bearer = await new SignJWT({ tenant: t, role: "viewer" }).setProtectedHeader({ alg: "ES256", kid: "probe" }).setIssuer("octw-oidc-browser-probe")
        .setAudience("octw-edge").setSubject("readiness-probe").setIssuedAt().setExpirationTime("15m").sign(jwtKeys.privateKey);
      await until(`${t}'s gateway through the edge`, 300_000, async () => {
        const status = await new Promise<number>((resolve, reject) => {
          // (fetch would drop the Host header)
          const req = http.get({ host: "127.0.0.1", port: edgePort, path: "/readyz", agent: false, timeout: 10_000, headers: { host: `${t}.${DOMAIN}`, authorization: `Bearer ${bearer}` } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
          req.on("error", reject);
        });
        if (status !== 200) throw new Error(`status ${status}`);
        return true;
      });
    }
    const kit = await startBrowserKit({
      shots: o.shots,
      hostRules: `MAP idp.${DOMAIN} ${ingressHost}, MAP *.${DOMAIN} ${front}`,
      origin: (t) => `https://${t}.${DOMAIN}`,
      idpIssuer: () => idp.issuer,
    });
    closers.push(() => kit.close());
    return {
      dk,
      runId,
      prefix,
      kit,
      idp,
      keys,
      provider,
      idpGrantErrors,
      recheckS: o.recheckS,
      edgeLog: async () => demuxDockerStream(await dk.getContainer(`${prefix}-edge`).logs({ stdout: true, stderr: true, follow: false, tail: 400 })),
      auditEvents: async (tenant) => {
        const c = new pg.Client({ host: operator.host, port: operator.port, database: operator.database, user: operator.user, password: operator.password });
        await c.connect();
        try {
          return await readEvents(c, { tenant, limit: 100_000 });
        } finally {
          await c.end();
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
