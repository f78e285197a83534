// The shipper against a fake Engine API: discovery by label, following logs, aggregation,
// recording closed windows, checkpoints, and a restart that replays idempotently.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseShipperConfig } from "../src/config";
import { startRunner, type Runner } from "../src/runner";
import type { AuditRecorder } from "../src/shipper";
import { fakeEngine, squidLine, type FakeEngine } from "./fake-engine";

const ID_A = "a".repeat(64);
const ID_B = "b".repeat(64);
const ID_OTHER = "c".repeat(64);
const T0 = Math.floor(Date.now() / 10_000) * 10_000 - 60_000; // a window boundary one minute ago

let engine: FakeEngine;
let dir: string;
let recorded: Parameters<AuditRecorder["record"]>[0][];
const sink: AuditRecorder = { record: (e) => (recorded.push(e), Promise.resolve()) };
const until = async (cond: () => boolean, ms = 3_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

beforeEach(async () => {
  engine = await fakeEngine();
  dir = mkdtempSync(path.join(tmpdir(), "egress-audit-"));
  recorded = [];
  engine.add(ID_A, { "octw.tenant": "alpha", "octw.component": "egress-proxy" });
  engine.add(ID_B, { "octw.tenant": "bravo", "octw.component": "egress-proxy" });
  engine.add(ID_OTHER, { "octw.tenant": "alpha", "octw.component": "gateway" });
});
afterEach(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const config = () => parseShipperConfig({ dockerSocket: engine.socketPath, windowMs: 10_000, graceMs: 1_000, checkpointPath: path.join(dir, "cp.json") });

async function runOnce(): Promise<Runner> {
  const r = startRunner(config(), sink, () => {}, { timers: false });
  await r.discover();
  return r;
}

describe("egress denial shipper", () => {
  it("ships a 1 000-denial retry loop as one egress.denied event, per tenant, from proxies only", async () => {
    for (let i = 0; i < 1_000; i++) engine.log(ID_A, T0 + i * 5, squidLine(T0 + i * 5, "evil.example.com", 443));
    engine.log(ID_A, T0 + 6_000, squidLine(T0 + 6_000, "allowed.example.com", 443, 200, "TCP_TUNNEL"));
    engine.log(ID_B, T0 + 100, squidLine(T0 + 100, "pastebin.example.org", 443));
    engine.log(ID_OTHER, T0 + 100, squidLine(T0 + 100, "not-a-proxy.example", 443));
    const r = await runOnce();
    expect([...r.sources.keys()].sort()).toEqual([ID_A, ID_B]);
    await until(() => (r.sources.get(ID_A)?.stats.lines ?? 0) >= 1_001 && (r.sources.get(ID_B)?.stats.lines ?? 0) >= 1);
    await r.flush();
    expect(recorded.map((e) => [e.tenant, e.target, e.details?.count])).toEqual(
      expect.arrayContaining([["alpha", "evil.example.com:443", 1_000], ["bravo", "pastebin.example.org:443", 1]]),
    );
    expect(recorded).toHaveLength(2);
    const a = recorded.find((e) => e.tenant === "alpha")!;
    expect(a).toMatchObject({ action: "egress.denied", actor: "egress-audit", decision: "denied", details: { host: "evil.example.com", port: 443, method: "CONNECT", first_seen: new Date(T0).toISOString(), last_seen: new Date(T0 + 999 * 5).toISOString() } });
    // Checkpoints advanced past the recorded window.
    const cp = JSON.parse(readFileSync(path.join(dir, "cp.json"), "utf8")) as Record<string, number>;
    expect(cp[ID_A]).toBeGreaterThanOrEqual(T0 / 1000);
    await r.stop();
  });

  it("an open window is not recorded yet, is re-read after a restart, and replays with the same keys", async () => {
    const now = Date.now();
    const open = Math.floor(now / 10_000) * 10_000; // the current window: still open
    engine.log(ID_A, T0 + 1, squidLine(T0 + 1, "closed.example.com", 443));
    engine.log(ID_A, open + 1, squidLine(open + 1, "open.example.com", 443));
    let r = await runOnce();
    await until(() => (r.sources.get(ID_A)?.stats.lines ?? 0) >= 2);
    await r.flush(now);
    expect(recorded.map((e) => e.target)).toEqual(["closed.example.com:443"]);
    await r.stop();
    const cp = JSON.parse(readFileSync(path.join(dir, "cp.json"), "utf8")) as Record<string, number>;
    expect(cp[ID_A]).toBe(open / 1000);
    // Restart: reads from the open window on, and records it once it closes.
    r = await runOnce();
    await until(() => (r.sources.get(ID_A)?.stats.lines ?? 0) >= 1);
    expect(engine.requests.filter((u) => u.includes(`${ID_A}/logs`)).at(-1)).toContain(`since=${open / 1000}`);
    await r.flush(open + 20_000);
    expect(recorded.map((e) => e.target)).toEqual(["closed.example.com:443", "open.example.com:443"]);
    expect(recorded[1]!.idempotencyKey).toMatch(new RegExp(`^egress\\.denied:${ID_A.slice(0, 12)}:${open}:0:[0-9a-f]{40}$`));
    await r.stop();
  });

  it("extra label filters follow only the proxies that carry them", async () => {
    engine.containers.get(ID_A)!.labels["octw.platform"] = "one";
    const r = startRunner(parseShipperConfig({ dockerSocket: engine.socketPath, labels: { "octw.platform": "one" }, checkpointPath: path.join(dir, "cp.json") }), sink, () => {}, { timers: false });
    await r.discover();
    expect([...r.sources.keys()]).toEqual([ID_A]);
    await r.stop();
  });

  it("a stopped proxy's remaining windows are recorded when its stream ends", async () => {
    const now = Date.now();
    engine.log(ID_B, now, squidLine(now, "late.example.com", 8443));
    const r = await runOnce();
    await until(() => (r.sources.get(ID_B)?.stats.lines ?? 0) >= 1);
    engine.stop(ID_B);
    await until(() => recorded.some((e) => e.target === "late.example.com:8443"));
    await until(() => !r.sources.has(ID_B));
    await r.stop();
  });
});
