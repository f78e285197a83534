// Address classification for provider destinations, checked against an oracle written
// independently (integer ranges for IPv4, prefix arithmetic for IPv6) and against the WHATWG URL
// parser for odd IPv4 spellings. No test here opens a socket: addresses are only classified.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressProblem, baseUrlProblem, blockListOf, inetAtonIPv4, nonPublicReason, parseInferencePolicy } from "@octw/contracts";
import { vetDestination, DestinationRefusedError, type Resolver } from "../src/destination";

const RUNS = Number(process.env.OCTW_FUZZ_RUNS ?? 300);

/** The oracle: IANA special-purpose IPv4 blocks as [first, last] integers. */
const V4_BLOCKS: [string, number][] = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.31.196.0", 24], ["192.52.193.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16],
  ["192.175.48.0", 24], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
];
const toInt = (ip: string) => ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
const RANGES = V4_BLOCKS.map(([b, len]) => [toInt(b), toInt(b) + 2 ** (32 - len) - 1] as const);
const oracleV4Public = (n: number) => !RANGES.some(([lo, hi]) => n >= lo && n <= hi);

const anyV4 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const forbiddenV4 = fc.constantFrom(...RANGES).chain(([lo, hi]) => fc.integer({ min: lo, max: hi }));
const hex16 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const v6With = (firstHextet: fc.Arbitrary<number>) => fc.tuple(firstHextet, fc.array(hex16, { minLength: 7, maxLength: 7 })).map(([f, rest]) => [f.toString(16), ...rest].join(":"));

describe("IPv4 classification", () => {
  it("agrees with the oracle on every address (property)", () => {
    fc.assert(fc.property(anyV4, (n) => (nonPublicReason(toIp(n)) === undefined) === oracleV4Public(n)), { numRuns: RUNS * 10 });
  });
  it("every address of every special-purpose block is refused (property), e.g. metadata, CGNAT, 198.18/15", () => {
    fc.assert(fc.property(forbiddenV4, (n) => nonPublicReason(toIp(n)) !== undefined), { numRuns: RUNS * 10 });
    for (const ip of ["169.254.169.254", "100.100.100.200", "198.19.255.255", "0.0.0.0", "255.255.255.255", "224.0.0.1", "192.0.0.170"]) expect(nonPublicReason(ip)).toBeDefined();
  });
  it("positive control: public addresses pass", () => {
    for (const ip of ["1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.32.0.1", "198.17.255.255", "198.20.0.0", "223.255.255.255"]) expect(nonPublicReason(ip)).toBeUndefined();
  });
});

describe("IPv6 classification", () => {
  it("IPv4-mapped, IPv4-compatible and NAT64 forms of ANY IPv4 address are refused (property)", () => {
    fc.assert(
      fc.property(anyV4, (n) => {
        const v4 = toIp(n);
        const hi = Math.floor(n / 65536).toString(16);
        const lo = (n % 65536).toString(16);
        for (const form of [`::ffff:${v4}`, `::ffff:${hi}:${lo}`, `0:0:0:0:0:ffff:${hi}:${lo}`, `::${v4}`, `64:ff9b::${v4}`, `64:ff9b:1::${hi}:${lo}`, `[::ffff:${v4}]`]) {
          if (nonPublicReason(form) === undefined) return false;
        }
        return true;
      }),
      { numRuns: RUNS * 5 },
    );
  });
  it("loopback, unspecified, unique-local, link-local, site-local, multicast, discard are refused (property)", () => {
    expect(nonPublicReason("::1")).toBeDefined();
    expect(nonPublicReason("::")).toBeDefined();
    expect(nonPublicReason("100::1")).toBeDefined();
    const nonGlobal = fc.oneof(
      v6With(fc.integer({ min: 0xfc00, max: 0xfdff })), // unique local
      v6With(fc.integer({ min: 0xfe80, max: 0xfebf })), // link-local
      v6With(fc.integer({ min: 0xfec0, max: 0xfeff })), // site-local
      v6With(fc.integer({ min: 0xff00, max: 0xffff })), // multicast
      v6With(fc.integer({ min: 0, max: 0x1fff })), // below 2000::/3
      v6With(fc.integer({ min: 0x4000, max: 0xfbff })), // above 2000::/3
    );
    fc.assert(fc.property(nonGlobal, (a) => nonPublicReason(a) !== undefined), { numRuns: RUNS * 5 });
  });
  it("inside 2000::/3: documentation, 6to4, Teredo and the IETF block are refused; the rest is public (property)", () => {
    for (const a of ["2001:db8::1", "2002:7f00:1::1", "2001:0:4136:e378::1", "2001:2::1", "3fff::1", "2001:10::1"]) expect(nonPublicReason(a)).toBeDefined();
    const global = fc.tuple(fc.integer({ min: 0x2000, max: 0x3fff }), fc.integer({ min: 0, max: 0xffff }), fc.array(hex16, { minLength: 6, maxLength: 6 }));
    fc.assert(
      fc.property(global, ([h1, h2, rest]) => {
        const special = (h1 === 0x2001 && h2 < 0x200) || (h1 === 0x2001 && h2 === 0xdb8) || h1 === 0x2002 || (h1 === 0x3fff && h2 < 0x1000);
        const a = [h1.toString(16), h2.toString(16), ...rest].join(":");
        return (nonPublicReason(a) === undefined) === !special;
      }),
      { numRuns: RUNS * 5 },
    );
  });
});

describe("odd IPv4 spellings (as a host name)", () => {
  /** Writes n as 1..4 inet_aton parts, each in decimal, octal or hex. */
  const spelled = fc.tuple(anyV4, fc.integer({ min: 1, max: 4 }), fc.array(fc.constantFrom("dec", "oct", "hex", "HEX"), { minLength: 4, maxLength: 4 })).map(([n, parts, radixes]) => {
    const bytes = [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256);
    const head = bytes.slice(0, parts - 1);
    const tail = bytes.slice(parts - 1).reduce((a, b) => a * 256 + b, 0);
    const write = (v: number, r: string) => (r === "dec" ? String(v) : r === "oct" ? `0${v.toString(8)}` : r === "hex" ? `0x${v.toString(16)}` : `0X${v.toString(16).toUpperCase()}`);
    return { n, text: [...head, tail].map((v, i) => write(v, radixes[i]!)).join(".") };
  });
  it("read the way the WHATWG URL parser reads them (property; the oracle is node's URL)", () => {
    fc.assert(
      fc.property(spelled, ({ n, text }) => {
        expect(inetAtonIPv4(text)).toBe(toIp(n));
        expect(new URL(`https://${text}/`).hostname).toBe(toIp(n));
      }),
      { numRuns: RUNS * 5 },
    );
  });
  it("a provider URL spelling a forbidden address any way is refused at config time (property)", () => {
    fc.assert(
      fc.property(spelled, ({ n, text }) => (baseUrlProblem(`https://${text}/v1`) !== undefined) === !oracleV4Public(n)),
      { numRuns: RUNS * 5 },
    );
    for (const t of ["0x7f.1", "2130706433", "0177.0.0.1", "127.1", "0x7f000001", "0251.0376.0251.0376"]) expect(baseUrlProblem(`https://${t}`)).toMatch(/not a public address/);
  });
  it("and at connect time, when it reaches the guard as a host name, without asking the resolver", async () => {
    const resolver: Resolver = () => Promise.reject(new Error("the resolver must not be asked"));
    for (const t of ["0x7f.1", "2130706433", "0177.0.0.1", "0xa9.0xfe.0xa9.0xfe"]) await expect(vetDestination(t, {}, resolver)).rejects.toBeInstanceOf(DestinationRefusedError);
  });
});

describe("provider base URLs (config time)", () => {
  const refused: [string, RegExp][] = [
    ["http://api.example.com", /must be an https:\/\/ URL/],
    ["https://169.254.169.254", /not a public address \(169\.254\.0\.0\/16/],
    ["https://[::ffff:10.0.0.1]", /not a public address/],
    ["https://[fd00::1]:5432", /not a public address/],
    ["https://10.64.0.2:5432", /not a public address \(10\.0\.0\.0\/8 private\)/],
    ["https://localhost", /fully qualified|loopback, local-network/],
    ["https://api.localhost", /loopback, local-network or metadata/],
    ["https://metadata.google.internal", /loopback, local-network or metadata/],
    ["https://printer.local", /loopback, local-network or metadata/],
    ["https://postgres", /fully qualified DNS name/],
    ["https://1.2.3.4.in-addr.arpa", /loopback, local-network or metadata/],
    ["https://example.123", /valid URL|numeric address form/],
    ["https://0x7f.1.1.1.1", /valid URL|numeric address form/],
  ];
  for (const [url, why] of refused) {
    it(`refuses ${url}`, () => expect(baseUrlProblem(url)).toMatch(why));
  }
  it("positive control: a public https provider, by name or public address", () => {
    for (const url of ["https://api.example.com", "https://api.example.com:8443/openai", "https://1.1.1.1", "https://[2606:4700::1111]"]) expect(baseUrlProblem(url)).toBeUndefined();
  });
  it("SandboxPolicy.inference (tenant input) gets the strict check, naming the field", () => {
    expect(() => parseInferencePolicy({ providers: [{ name: "x", api: "openai", baseUrl: "https://169.254.169.254", models: ["m"] }] }, "policy.inference")).toThrow(/policy\.inference\.providers\.0\.baseUrl: host is not a public address/);
    expect(() => parseInferencePolicy({ providers: [{ name: "x", api: "openai", baseUrl: "http://api.example.com", models: ["m"] }] })).toThrow(/providers\.0\.baseUrl: must be an https:\/\/ URL/);
  });
  it("the test hatch allows http and its networks only; the platform's networks stay refused", () => {
    const hatch = { insecureForTests: blockListOf(["127.0.0.1/32"]), platform: blockListOf(["127.0.10.0/27"]) };
    expect(baseUrlProblem("http://127.0.0.1:9", hatch)).toBeUndefined();
    expect(baseUrlProblem("http://127.0.0.2:9", hatch)).toMatch(/not a public address/);
    expect(baseUrlProblem("http://169.254.169.254", hatch)).toMatch(/not a public address/);
    expect(addressProblem("127.0.10.5", { ...hatch, insecureForTests: blockListOf(["127.0.0.0/8"]) })).toMatch(/platform's own networks/);
  });
});

describe("connect-time vetting (no socket: the resolver is the test's)", () => {
  const fixed = (answers: string[]): Resolver => () => Promise.resolve(answers.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));
  it("a name any of whose answers is not public is refused whole (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyV4, { minLength: 1, maxLength: 6 }), async (ns) => {
        const answers = ns.map(toIp);
        const allPublic = ns.every(oracleV4Public);
        const r = await vetDestination("api.example.com", {}, fixed(answers)).then(() => "ok", (e: unknown) => (e instanceof DestinationRefusedError ? "refused" : "error"));
        return r === (allPublic ? "ok" : "refused");
      }),
      { numRuns: RUNS },
    );
  });
  it("the refusal does not name the inside address it found", async () => {
    const err = await vetDestination("api.example.com", {}, fixed(["10.1.2.3"])).catch((e: unknown) => e as Error);
    expect((err as Error).message).not.toContain("10.1.2.3");
  });
});
