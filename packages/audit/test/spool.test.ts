import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { normalizeEvent } from "../src/event";
import { Spool } from "../src/spool";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "octw-spool-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ev = (i: number) => normalizeEvent({ tenant: "t", actor: "a", action: "x.y", idempotencyKey: `k${i}`, details: { i } });

describe("Spool", () => {
  it("keeps events in order across appends and reads them back in pages", async () => {
    const s = new Spool(join(dir, "sub", "spool.jsonl"));
    await s.open();
    await s.append([ev(1), ev(2)]);
    await s.append([ev(3)]);
    const first = await s.read(0, 2);
    expect(first.events.map((e) => e.idempotencyKey)).toEqual(["k1", "k2"]);
    const rest = await s.read(first.next, 10);
    expect(rest.events.map((e) => e.idempotencyKey)).toEqual(["k3"]);
    expect(rest.next).toBe(s.size);
    expect((await stat(s.path)).mode & 0o777).toBe(0o600);
    await s.close();
  });

  it("survives reopening and cuts off a partial last line from a crash", async () => {
    const path = join(dir, "spool.jsonl");
    const s = new Spool(path);
    await s.open();
    await s.append([ev(1), ev(2)]);
    await s.close();
    await appendFile(path, '{"tenant":"t","act'); // crash in the middle of a write
    const again = new Spool(path);
    await again.open();
    const { events } = await again.read(0, 10);
    expect(events.map((e) => e.idempotencyKey)).toEqual(["k1", "k2"]);
    await again.append([ev(3)]);
    expect((await again.read(0, 10)).events.map((e) => e.idempotencyKey)).toEqual(["k1", "k2", "k3"]);
    await again.close();
  });

  it("reports a corrupt line in the middle instead of skipping it", async () => {
    const path = join(dir, "spool.jsonl");
    await writeFile(path, JSON.stringify(ev(1)) + "\nnot json\n" + JSON.stringify(ev(2)) + "\n");
    const s = new Spool(path);
    await s.open();
    await expect(s.read(0, 10)).rejects.toThrow(/corrupt at byte \d+/);
    await s.close();
  });

  it("reads lines longer than its read chunk", async () => {
    const s = new Spool(join(dir, "spool.jsonl"));
    await s.open();
    const big = normalizeEvent({ tenant: "t", actor: "a", action: "x.y", details: { blob: "z".repeat(60_000) } });
    await s.append(Array.from({ length: 40 }, () => big)); // 2.4 MB, more than one 1 MiB chunk
    const { events, next } = await s.read(0, 100);
    expect(events).toHaveLength(40);
    expect(next).toBe(s.size);
    await s.close();
  });

  it("clear() empties the file", async () => {
    const s = new Spool(join(dir, "spool.jsonl"));
    await s.open();
    await s.append([ev(1)]);
    await s.clear();
    expect(s.size).toBe(0);
    expect(await readFile(s.path, "utf8")).toBe("");
    await s.close();
  });
});
