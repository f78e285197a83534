// The move's switch writes the tenant's pin into the stack config file: exactly that tenant's
// `host`, every other byte of the file unchanged (comments, order, the other tenants).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { pinInStackFile, pinOf } from "../src/backup/stack-pin";

const local = readFileSync(new URL("../../../stacks/Pulumi.local.yaml", import.meta.url), "utf8");
const ids = (parse(local) as { config: { "octw:platform": { tenants: { id: string }[] } } }).config["octw:platform"].tenants.map((t) => t.id);

describe("pinning a tenant in the stack file", () => {
  it("adds `host` to exactly that tenant, then changes only its value; the rest of the file is byte for byte the same", () => {
    expect(ids.length).toBeGreaterThan(1);
    for (const id of ids) {
      expect(pinOf(local, id)).toBeUndefined();
      const once = pinInStackFile(local, id, "b");
      expect(pinOf(once, id)).toBe("b");
      for (const other of ids.filter((x) => x !== id)) expect(pinOf(once, other)).toBeUndefined();
      const added = once.split("\n").filter((l, i, all) => all.length === local.split("\n").length + 1 && !local.split("\n").includes(l));
      expect(added).toEqual([expect.stringMatching(/^ +host: "b"$/)]);
      expect(once.replace(/\n +host: "b"\n/, "\n")).toBe(local);
      const twice = pinInStackFile(once, id, "home");
      expect(pinOf(twice, id)).toBe("home");
      expect(twice.replace('host: "home"', 'host: "b"')).toBe(once);
      // the whole document still parses to the same config but for that pin
      const a = parse(local) as { config: { "octw:platform": { tenants: Record<string, unknown>[] } } };
      const b = parse(twice) as typeof a;
      const t = b.config["octw:platform"].tenants.find((x) => x.id === id)!;
      delete t.host;
      expect(b).toEqual(a);
    }
  });

  it("names the problem: an unknown tenant, a flow-style tenant, a bad host name", () => {
    expect(() => pinInStackFile(local, "nobody", "b")).toThrow(/tenant: "nobody" is not in the stack file/);
    expect(() => pinInStackFile(local, ids[0]!, "B;rm")).toThrow(/--to: must be a host name/);
    const flow = `config:\n  octw:platform:\n    tenants:\n      - { id: x }\n`;
    expect(() => pinInStackFile(flow, "x", "b")).toThrow(/flow style/);
  });
});
