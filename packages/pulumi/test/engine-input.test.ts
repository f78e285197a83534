// The dynamic resources that speak the Engine API (NetworkAttachment, ServiceConfigFile), as the
// dynamic-provider host runs them: serialized, loaded from text, then called. With an `engine`
// input they talk to that engine and no other (here: a fake engine on a unix socket the test
// serves); another engine is a replacement, new credentials for the same engine an update.
import * as pulumi from "@pulumi/pulumi";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetworkAttachment, ServiceConfigFile } from "../src/index.js";
import { settle } from "./harness.js";

type Handler = Record<string, (...a: unknown[]) => Promise<Record<string, unknown> | undefined>>;
const serialized = new Map<string, string>();
let dir: string;
let fake: Server;
const seen: { method: string; url: string; body: Buffer }[] = [];

/** The provider module of a dynamic resource, loaded from its serialized text as the provider host does. */
function load(name: string): Handler {
  const text = serialized.get(name)!;
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- what Pulumi's dynamic-provider host does with the state's __provider
  const run = new Function("exports", "require", "module", "__filename", "__dirname", text) as (...a: unknown[]) => void;
  run(mod.exports, createRequire(import.meta.url), mod, "/p", "/");
  return (mod.exports.handler as () => Handler)();
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        const inputs = a.inputs as Record<string, unknown>;
        if (typeof inputs.__provider === "string") serialized.set(a.name, inputs.__provider);
        return { id: `${a.name}-id`, state: inputs };
      },
      call: (a) => a.inputs as Record<string, unknown>,
    },
    "octw",
    "test",
    false,
  );
  new NetworkAttachment("att", { container: "c", network: "n", ipv4Address: "10.64.0.34" });
  new ServiceConfigFile("file", { container: "c", path: "/state/config/config.json", content: "{}\n", uid: 1, gid: 1, mode: 0o400 });
  await settle();
  dir = mkdtempSync(path.join(tmpdir(), "octw-fake-engine-"));
  fake = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => fake.listen(path.join(dir, "engine.sock"), resolve));
});

afterAll(async () => {
  await new Promise((resolve) => fake.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const engineB = () => ({ host: `unix://${path.join(dir, "engine.sock")}` });

describe("dynamic resources with an engine input", () => {
  it("NetworkAttachment connects on its engine (the fake one), with the address it was given", async () => {
    seen.length = 0;
    const p = load("att");
    const r = await p.create!({ container: "ctr-b", network: "net-b", ipv4Address: "10.64.0.34", engine: engineB() });
    expect(r).toMatchObject({ id: "net-b/ctr-b" });
    expect(seen.map((s) => [s.method, s.url, JSON.parse(s.body.toString()) as unknown])).toEqual([
      ["POST", "/networks/net-b/connect", { Container: "ctr-b", EndpointConfig: { IPAMConfig: { IPv4Address: "10.64.0.34" } } }],
    ]);
    await p.delete!("net-b/ctr-b", { container: "ctr-b", network: "net-b", ipv4Address: "10.64.0.34", engine: engineB() });
    expect(seen[1]).toMatchObject({ method: "POST", url: "/networks/net-b/disconnect" });
  });

  it("ServiceConfigFile writes through its engine: an archive PUT of the file", async () => {
    seen.length = 0;
    await load("file").create!({ container: "init-b", path: "/state/config/config.json", content: "{\"a\":1}\n", uid: 10003, gid: 10003, mode: 0o400, engine: engineB() });
    expect(seen.map((s) => [s.method, s.url])).toEqual([["PUT", "/containers/init-b/archive?path=%2Fstate%2Fconfig"]]);
    expect(seen[0]!.body.subarray(0, 11).toString()).toBe("config.json");
    expect(seen[0]!.body.toString()).toContain("{\"a\":1}\n");
  });

  it("a tcp engine without TLS material is refused before any connection, without echoing the input", async () => {
    const err = await load("att").create!({ container: "c", network: "n", ipv4Address: "10.64.0.34", engine: { host: "tcp://127.0.0.1:9", keyMaterial: "KEY-SECRET-VALUE" } }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/needs caMaterial, certMaterial and keyMaterial/);
    expect((err as Error).message).not.toContain("KEY-SECRET-VALUE");
  });

  it.each(["att", "file"])("%s: another engine replaces; new credentials for the same engine update; none on either side is no change", async (name) => {
    const base = name === "att" ? { container: "c", network: "n", ipv4Address: "10.64.0.34" } : { container: "c", path: "/s/f", content: "x", uid: 1, gid: 1, mode: 256 };
    const diff = (olds: Record<string, unknown>, news: Record<string, unknown>) => load(name).diff!("id", { ...base, ...olds }, { ...base, ...news });
    expect(await diff({}, {})).toMatchObject({ changes: false, replaces: [] });
    expect(await diff({}, { engine: { host: "tcp://10.0.0.5:2376" } })).toMatchObject({ changes: true, replaces: ["engine"] });
    expect(await diff({ engine: { host: "tcp://10.0.0.5:2376", keyMaterial: "k1" } }, { engine: { host: "tcp://10.0.0.6:2376", keyMaterial: "k1" } })).toMatchObject({ replaces: ["engine"] });
    expect(await diff({ engine: { host: "tcp://10.0.0.5:2376", keyMaterial: "k1" } }, { engine: { host: "tcp://10.0.0.5:2376", keyMaterial: "k2" } })).toMatchObject({ changes: true, replaces: [] });
    // the update only records the new credentials (no engine call)
    seen.length = 0;
    if (name === "att") expect(await load(name).update!("id", base, { ...base, engine: engineB() })).toEqual({ outs: { ...base, engine: engineB() } });
    expect(seen).toEqual([]);
  });
});
