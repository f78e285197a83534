// The waker's Engine client (engine.ts) against a stand-in Engine API on a unix socket: exactly
// which requests it sends, how it reads the answers (defensively: malformed entries skipped,
// oversized or late answers refused) and, on the allow-list, that every path is matched whole.
// The real engine is test/conformance/waker.docker.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Engine, EngineError } from "../src/engine";

const A = "a".repeat(64);
const B = "b".repeat(64);

interface Seen {
  method: string;
  url: string;
  host: string | undefined;
}
let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;
const seen: Seen[] = [];
let dir: string;
let socketPath: string;
let server: http.Server;

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "waker-engine-"));
  socketPath = path.join(dir, "engine.sock");
  server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", host: req.headers.host });
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  seen.length = 0;
  answer = (_req, res) => json(res, 500, { message: "unexpected" });
});

describe("Engine over its socket", () => {
  it("list: one GET with the label filter, answers read defensively (bad ids, odd labels skipped)", async () => {
    answer = (_req, res) =>
      json(res, 200, [
        { Id: A, Labels: { "octw.tenant": "alpha", n: 5, "octw.component": "gateway" } },
        { Id: B.toUpperCase(), Labels: {} },
        { Id: B.slice(1), Labels: {} },
        { Id: `${B}0`, Labels: {} },
        { Id: 7, Labels: {} },
        { Id: [B], Labels: {} },
        { Id: B, Labels: null },
        { Id: B, Labels: "x" },
        { Id: B },
      ]);
    const list = await new Engine({ socketPath }).list({ "octw.platform": "p", "octw.tenant": "alpha" });
    expect(list).toEqual([{ id: A, labels: { "octw.tenant": "alpha", "octw.component": "gateway" } }]);
    expect(seen).toEqual([{ method: "GET", url: `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ["octw.platform=p", "octw.tenant=alpha"] }))}`, host: "docker" }]);
  });

  it("list: a refusal or a non-list answer is an EngineError with the status", async () => {
    answer = (_req, res) => json(res, 500, { message: "boom" });
    await expect(new Engine({ socketPath }).list({ a: "b" })).rejects.toMatchObject({ name: "EngineError", statusCode: 500, message: "engine: listing containers answered HTTP 500" });
    answer = (_req, res) => json(res, 200, { not: "a list" });
    await expect(new Engine({ socketPath }).list({ a: "b" })).rejects.toThrow("engine: container list is not an array");
  });

  it("state: status and health; 'none' and no health check are undefined; no state is an error", async () => {
    const e = new Engine({ socketPath });
    answer = (_req, res) => json(res, 200, { State: { Status: "running", Health: { Status: "healthy" } } });
    expect(await e.state(A)).toEqual({ status: "running", health: "healthy" });
    expect(seen.at(-1)).toEqual({ method: "GET", url: `/containers/${A}/json`, host: "docker" });
    answer = (_req, res) => json(res, 200, { State: { Status: "paused", Health: { Status: "none" } } });
    expect(await e.state(A)).toEqual({ status: "paused", health: undefined });
    answer = (_req, res) => json(res, 200, { State: { Status: "exited" } });
    expect(await e.state(A)).toEqual({ status: "exited", health: undefined });
    answer = (_req, res) => json(res, 200, { State: { Status: "running", Health: { Status: 3 } } });
    expect(await e.state(A)).toEqual({ status: "running", health: undefined });
    answer = (_req, res) => json(res, 200, {});
    await expect(e.state(A)).rejects.toThrow(`engine: ${A.slice(0, 12)} has no state`);
    answer = (_req, res) => json(res, 404, { message: "no such container" });
    await expect(e.state(A)).rejects.toMatchObject({ statusCode: 404, message: `engine: inspecting ${A.slice(0, 12)} answered HTTP 404` });
  });

  it("act: POST to the action's path, stop with its grace; 204 and 304 are done, anything else an error", async () => {
    const e = new Engine({ socketPath });
    answer = (_req, res) => res.writeHead(204).end();
    for (const a of ["pause", "unpause", "start"] as const) await e.act(A, a);
    await e.act(A, "stop", 7);
    await e.act(A, "stop");
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([`POST /containers/${A}/pause`, `POST /containers/${A}/unpause`, `POST /containers/${A}/start`, `POST /containers/${A}/stop?t=7`, `POST /containers/${A}/stop?t=10`]);
    answer = (_req, res) => res.writeHead(304).end();
    await e.act(A, "start");
    answer = (_req, res) => json(res, 500, { message: "freezer timed out" });
    await expect(e.act(A, "pause")).rejects.toMatchObject({ statusCode: 500, message: `engine: pause of ${A.slice(0, 12)} answered HTTP 500` });
  });

  it("an endless answer is cut at 8 MiB; a late one at the timeout", async () => {
    answer = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let n = 0;
      const more = () => {
        while (n < 12 && res.write(chunk)) n++;
        if (n < 12) res.once("drain", more);
        else res.end("[]");
      };
      more();
    };
    await expect(new Engine({ socketPath }).list({ a: "b" })).rejects.toThrow("engine answer too large");
    // control: just under the bound is read
    answer = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`${" ".repeat(8 * 1024 * 1024 - 2)}[]`);
    };
    expect(await new Engine({ socketPath }).list({ a: "b" })).toEqual([]);
    answer = () => {}; // never answers
    const t0 = performance.now();
    await expect(new Engine({ socketPath, timeoutMs: 200 }).state(A)).rejects.toThrow(`engine call GET /containers/${A}/json timed out after 200 ms`);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("a connection cut in the middle of an answer fails the call at once, not at the timeout", async () => {
    answer = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write("[");
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const t0 = performance.now();
    await expect(new Engine({ socketPath, timeoutMs: 20_000 }).list({ a: "b" })).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("a refused request is never sent, and its error names method and path without the query", async () => {
    const e = new Engine({ socketPath });
    await expect(e.act("../../exec", "start")).rejects.toMatchObject({ name: "EngineError", message: "refused to send POST /containers/../../exec/start to the engine: not one of the waker's calls" });
    await expect(e.act(A, "stop", 1000)).rejects.toThrow(`refused to send POST /containers/${A}/stop to the engine`);
    expect(seen).toEqual([]);
    expect(new EngineError("x", 1)).toBeInstanceOf(Error);
  });
});

describe("Engine allow-list: whole paths only", () => {
  it("refuses each allowed shape with something before or after it, or another id length or alphabet", () => {
    const f = "label%22";
    for (const [m, p] of [
      ["GET", `/x/containers/json?all=1&filters=${f}`],
      ["GET", `/containers/json?all=1&filters=${f}&x=/`],
      ["GET", `/containers/json?all=1&filters=${f}/exec`],
      ["GET", `/x/containers/${A}/json`],
      ["POST", `/x/containers/${A}/start`],
      ["POST", `/containers/${A}/start/x`],
      ["POST", `/x/containers/${A}/stop?t=1`],
      ["POST", `/containers/${A}/stop?t=1x`],
      ["POST", `/containers/${A}/stop?t=1000`],
      ["POST", `/containers/${A.toUpperCase()}/start`],
      ["POST", `/containers/${A}0/start`],
    ] as const) {
      expect(Engine.allows(m, p), `${m} ${p}`).toBe(false);
    }
    // controls
    expect(Engine.allows("GET", `/containers/json?all=1&filters=${f}`)).toBe(true);
    expect(Engine.allows("POST", `/containers/${A}/stop?t=999`)).toBe(true);
    expect(Engine.allows("POST", `/containers/${A}/start`)).toBe(true);
    // the method belongs to the path: not GET for an action, not POST for a read
    expect(Engine.allows("GET", `/containers/${A}/start`)).toBe(false);
    expect(Engine.allows("POST", `/containers/${A}/json`)).toBe(false);
  });
});
