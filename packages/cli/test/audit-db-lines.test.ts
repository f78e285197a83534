// `octw restore audit` reads the decrypted archive line by line; the chunks it arrives in are
// cut anywhere, also inside a multi-byte UTF-8 character (an event's details may hold any text).
import fc from "fast-check";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { lines } from "../src/backup/audit-db";

async function collect(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines(Readable.from(chunks))) out.push(l);
  return out;
}

describe("restore's line splitter", () => {
  it("a character split between two chunks arrives whole", async () => {
    const bytes = Buffer.from('{"r":{"ü":"ok"}}\n{"r":2}\n', "utf8");
    const at = bytes.indexOf(Buffer.from("ü", "utf8")) + 1; // between the two bytes of ü
    expect(await collect([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(['{"r":{"ü":"ok"}}', '{"r":2}']);
    // control: in one chunk it was always whole
    expect(await collect([bytes])).toEqual(['{"r":{"ü":"ok"}}', '{"r":2}']);
  });

  it("property: any text cut into any chunks gives back exactly its lines", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: "binary" }).map((s) => s.replace(/\n/g, "")), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), async (ls, cuts) => {
        const bytes = Buffer.from(ls.map((l) => `${l}\n`).join(""), "utf8");
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.subarray(from, p));
          from = p;
        }
        expect(await collect(chunks.filter((c) => c.length > 0))).toEqual(ls);
      }),
      { numRuns: 300 },
    );
  });
});
