// bench:wake at the edge: a real edge (packages/edge, in-process) in front of the bench gateway,
// with a real waker (packages/waker, in-process on the engine socket) behind the waker's HTTP
// contract and token. The edge's own idle clock suspends the gateway (paused after PAUSE_S,
// stopped after STOP_S); each sample is one GET through the edge for a suspended tenant, timed
// from the request until its answer arrives — what a user waits.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createEdge } from "../../packages/edge/src/server";
import { parseEdgeConfig } from "@octw/contracts";
import { createWakerServer } from "../../packages/waker/src/server";
import type { Waker } from "../../packages/waker/src/waker";

const PAUSE_S = 2;
const STOP_S = 6;

function get(port: number, host: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/healthz", agent: false, headers: { host, authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

async function until(what: string, f: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function atTheEdge(opts: { gateway: Dockerode.Container; waker: Waker; address: string; runs: number }): Promise<{ paused: number[]; stopped: number[] }> {
  const token = randomBytes(24).toString("hex");
  const wakerServer = createWakerServer({ waker: opts.waker, token, maxInFlight: 64 });
  await new Promise<void>((r) => wakerServer.listen(0, "127.0.0.1", r));
  const wakerPort = (wakerServer.address() as AddressInfo).port;
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256", use: "sig" };
  const config = parseEdgeConfig({
    listen: { host: "127.0.0.1", port: 0, publicScheme: "https" },
    routing: { hostDomain: "bench.test" },
    tenants: [{ id: "bench", upstream: `http://${opts.address}:18789` }],
    jwt: { issuer: "bench", audience: "bench", algorithms: ["ES256"], keys: { kind: "static", jwks: [jwk] } },
    wake: { wakerUrl: `http://127.0.0.1:${wakerPort}`, tenants: { bench: { pauseAfterS: PAUSE_S, stopAfterS: STOP_S } }, tickMs: 50, readyPollMs: 20, holdTimeoutMs: 120_000, wakeTimeoutMs: 120_000 },
  });
  const edge = await createEdge(config, { audit: { record: () => Promise.resolve() }, wakerToken: () => token });
  const port = (await edge.listen()).port;
  const bearer = await new SignJWT({ tenant: "bench", role: "member" }).setProtectedHeader({ alg: "ES256", kid: "bench" }).setIssuer("bench").setAudience("bench")
    .setSubject("bench").setIssuedAt().setExpirationTime("2h").sign(privateKey);
  const state = async () => (await opts.gateway.inspect()).State.Status;
  const paused: number[] = [];
  const stopped: number[] = [];
  try {
    // The edge has not seen the tenant yet: the first request probes it (running) and starts its clock.
    if ((await get(port, "bench.bench.test", bearer)) !== 200) throw new Error("the gateway does not answer through the edge");
    for (let i = 0; i < opts.runs; i++) {
      await until("paused by the edge's idle clock", async () => (await state()) === "paused");
      let t0 = performance.now();
      let s = await get(port, "bench.bench.test", bearer);
      if (s !== 200) throw new Error(`wake from paused answered ${s}`);
      paused.push(performance.now() - t0);
      await until("stopped by the edge's idle clock", async () => (await state()) === "exited");
      t0 = performance.now();
      s = await get(port, "bench.bench.test", bearer);
      if (s !== 200) throw new Error(`wake from stopped answered ${s}`);
      stopped.push(performance.now() - t0);
    }
  } finally {
    await edge.close();
    wakerServer.close();
    wakerServer.closeAllConnections();
  }
  return { paused, stopped };
}
