import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DENIED_SYSCALLS,
  CLONE_NAMESPACE_FLAGS,
  buildSeccompProfile,
  cidrsOverlap,
  classifyImage,
  derivedSlot,
  hardenedContainerArgs,
  parseIpv4Cidr,
  planPlatform,
  renderOpenClawConfig,
  renderEdgeConfig,
  renderSquidConfig,
  slotCapacity,
  tenantAddressPlan,
  tenantIdentityPlan,
  volumeInitArgs,
} from "../src/index.js";
import { PINNED } from "./harness.js";

describe("address and identity plan", () => {
  const pool = parseIpv4Cidr("10.64.0.0/10")!;
  it("carves /27s with fixed offsets", () => {
    expect(tenantAddressPlan(pool, 1)).toMatchObject({ subnet: "10.64.0.32/27", edge: "10.64.0.34", inferenceRouter: "10.64.0.35", egressProxy: "10.64.0.36", gateway: "10.64.0.37" });
    expect(() => tenantAddressPlan(pool, 0)).toThrow(/slot: must be an integer in 1\.\./);
    expect(() => tenantAddressPlan(pool, slotCapacity(pool))).toThrow(/slot: must be an integer in 1\.\./);
  });
  it("gives distinct slots disjoint subnets and distinct UIDs (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: slotCapacity(pool) - 1 }), fc.integer({ min: 1, max: slotCapacity(pool) - 1 }), (a, b) => {
        fc.pre(a !== b);
        const sa = parseIpv4Cidr(tenantAddressPlan(pool, a).subnet)!;
        const sb = parseIpv4Cidr(tenantAddressPlan(pool, b).subnet)!;
        expect(cidrsOverlap(sa, sb)).toBe(false);
        expect(cidrsOverlap(sa, pool)).toBe(true);
        const ia = tenantIdentityPlan(200_000, a);
        const ib = tenantIdentityPlan(200_000, b);
        const all = [ia.gatewayUid, ia.egressProxyUid, ib.gatewayUid, ib.egressProxyUid];
        expect(new Set(all).size).toBe(4);
      }),
    );
  });
  it("derives the same slot for the same id, in range", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/), (id) => {
        const s = derivedSlot(id, 1000);
        expect(s).toBe(derivedSlot(id, 1000));
        expect(s).toBeGreaterThanOrEqual(1);
        expect(s).toBeLessThan(1000);
      }),
    );
  });
});

describe("squid config", () => {
  const config = renderSquidConfig({
    tenantId: "alpha",
    rules: [
      { policy: "gh", host: "api.github.com", ports: [443], allowedIps: [] },
      { policy: "slack", host: "*.slack.com", ports: [443, 8443], allowedIps: [] },
      { policy: "fake", host: "outside.octw.test", ports: [443], allowedIps: ["198.18.80.80"] },
    ],
  });
  const lines = config.split("\n");
  it("serves CONNECT only and denies everything not allowed, last", () => {
    expect(lines).toContain("http_access deny !CONNECT");
    expect(lines.filter((l) => l.startsWith("http_access")).at(-1)).toBe("http_access deny all");
  });
  it("requires every resolved address public, or every one inside allowed_ips (no address outside them)", () => {
    expect(lines).toContain("http_access allow CONNECT ep0_host ep0_port !non_public_dst");
    // ep2_outside: every address of both families except 198.18.80.80 (see squid-acl.test.ts).
    const outside = lines.filter((l) => l.startsWith("acl ep2_outside dst ")).flatMap((l) => l.split(" ").slice(3));
    expect(outside).toContain("198.18.80.81/32");
    expect(outside).toContain("198.18.80.0/26");
    expect(outside).toContain("::/0");
    expect(outside.some((c) => c.startsWith("198.18.80.80"))).toBe(false);
    expect(lines).toContain("http_access allow CONNECT ep2_host ep2_port !ep2_outside");
    expect(config).toMatch(/acl non_public_dst dst .*169\.254\.0\.0\/16/);
    expect(config).toMatch(/acl non_public_dst dst .*10\.0\.0\.0\/8/);
  });
  it("matches a wildcard as exactly one label in front, never the apex, without DNS lookups", () => {
    const acl = lines.find((l) => l.startsWith("acl ep1_host"))!;
    expect(acl).toMatch(/^acl ep1_host dstdom_regex -n -i /);
    const re = new RegExp(acl.split(" ").at(-1)!, "i");
    expect(re.test("files.slack.com")).toBe(true);
    expect(re.test("slack.com")).toBe(false);
    expect(re.test("a.b.slack.com")).toBe(false);
    expect(re.test("evil-slack.com")).toBe(false);
    expect(lines.find((l) => l.startsWith("acl ep0_host"))).toBe("acl ep0_host dstdomain -n api.github.com");
    expect(lines).toContain("acl ep1_port port 443 8443");
  });
  it("allows nothing when the allowlist is empty", () => {
    const empty = renderSquidConfig({ tenantId: "x", rules: [] });
    expect(empty.split("\n").filter((l) => l.startsWith("http_access"))).toEqual(["http_access deny !CONNECT", "http_access deny all"]);
  });
});

describe("seccomp profile", () => {
  const profile = buildSeccompProfile();
  const unconditional = new Set(profile.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW" && !r.args).flatMap((r) => r.names));
  it("denies by default with EPERM", () => {
    expect(profile.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(profile.defaultErrnoRet).toBe(1);
  });
  it.each(["ptrace", "bpf", "userfaultfd", "perf_event_open", "keyctl", "add_key", "request_key", "unshare", "setns", "mount", "umount2", "io_uring_setup", "io_uring_enter", "io_uring_register", "process_vm_readv", "open_by_handle_at", "clone3"])(
    "never allows %s unconditionally",
    (s) => expect(unconditional.has(s)).toBe(false),
  );
  it("allows clone only without namespace flags, and clone3 answers ENOSYS", () => {
    const clone = profile.syscalls.find((r) => r.names.includes("clone"))!;
    expect(clone.args).toEqual([{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }]);
    expect(profile.syscalls.find((r) => r.names.includes("clone3"))).toMatchObject({ action: "SCMP_ACT_ERRNO", errnoRet: 38 });
  });
  it("keeps what node and OpenClaw need", () => {
    for (const s of ["read", "write", "openat", "epoll_wait", "futex", "mmap", "execve", "socketpair", "getrandom", "statx", "rseq"]) expect(unconditional.has(s), s).toBe(true);
  });
  it("documents why each syscall is denied", () => {
    for (const [name, why] of Object.entries(DENIED_SYSCALLS)) expect(why.length, name).toBeGreaterThan(5);
  });
  it("is deterministic (stable diffs)", () => expect(JSON.stringify(buildSeccompProfile())).toBe(JSON.stringify(profile)));
});

describe("hardening", () => {
  it("drops everything and mounts tmpfs noexec,nosuid,nodev", () => {
    const h = hardenedContainerArgs({ uid: 200004, gid: 200004, limits: { memoryMb: 1024, cpus: 1, nproc: 512, nofile: 8192 }, tmpfs: [{ path: "/tmp", sizeMb: 64 }] });
    expect(h).toMatchObject({ user: "200004:200004", readOnly: true, capabilities: { drops: ["ALL"] }, memory: 1024, memorySwap: 1024 });
    expect(h.tmpfs["/tmp"]).toBe("rw,noexec,nosuid,nodev,size=64m,mode=1777,uid=200004,gid=200004");
    expect(h.securityOpts[0]).toBe("no-new-privileges:true");
    expect(() => hardenedContainerArgs({ uid: 0, gid: 0, limits: { memoryMb: 1, cpus: 1, nproc: 1, nofile: 1 }, tmpfs: [] })).toThrow(/root/);
  });
});

describe("images", () => {
  it.each([
    [`sha256:${"a".repeat(64)}`, "local-id"],
    [`ghcr.io/openclaw/openclaw@sha256:${"b".repeat(64)}`, "digest"],
    [`ghcr.io/openclaw/openclaw:2026.9.6@sha256:${"b".repeat(64)}`, "digest"],
    ["openclaw/openclaw:latest", "unpinned"],
    ["localhost:5000/x", "unpinned"],
    ["Bad Name", "invalid"],
  ])("%s is %s", (ref, kind) => expect(classifyImage(ref).kind).toBe(kind));
});

describe("OpenClaw config", () => {
  it("trusts only the edge and sets trusted-proxy auth", () => {
    const c = JSON.parse(renderOpenClawConfig({ edgeAddress: "10.64.0.34", allowedOrigins: ["https://alpha.example.com"] })) as { gateway: unknown };
    expect(c.gateway).toMatchObject({ mode: "local", bind: "lan", trustedProxies: ["10.64.0.34"], auth: { mode: "trusted-proxy", trustedProxy: { userHeader: "x-octw-user" } } });
  });
  it("names the same user header as the edge sets: one source, so they cannot disagree", () => {
    const gateway = JSON.parse(renderOpenClawConfig({ edgeAddress: "10.64.0.34", allowedOrigins: [] })) as { gateway: { auth: { trustedProxy: { userHeader: string } } } };
    const edge = JSON.parse(
      renderEdgeConfig({ image: "edge@sha256:" + "0".repeat(64), ingressNetworkName: "i", controlNetworkName: "c", auditConnectionUrl: "postgres://x", jwt: { issuer: "https://idp.example.com", audience: "octw", algorithms: ["ES256"], jwksUrl: "https://idp.example.com/jwks" }, hostDomain: "example.com"}),
    ) as { headers: { user: string } };
    expect(edge.headers.user).toBe(gateway.gateway.auth.trustedProxy.userHeader);
  });
});

describe("platform plan", () => {
  it("derives slots from ids when none is given and reports collisions naming both entries", () => {
    const plan = planPlatform({ images: PINNED, tenants: [{ id: "alpha" }, { id: "bravo" }], audit: { mode: "embedded" } }, "p");
    expect(plan.tenants.map((t) => t.addresses.slot)).toEqual([derivedSlot("alpha", slotCapacity(parseIpv4Cidr("10.64.0.0/10")!)), derivedSlot("bravo", slotCapacity(parseIpv4Cidr("10.64.0.0/10")!))]);
    // A /25 pool has 4 slots (1..3 usable): ids colliding on a derived slot must be reported.
    const ids = Array.from({ length: 6 }, (_, i) => ({ id: `t${i}` }));
    expect(() => planPlatform({ addressPool: "10.64.0.0/25", images: PINNED, tenants: ids, audit: { mode: "embedded" } }, "p")).toThrow(/tenants\[\d\]\.slot: \(derived from the id\) is already taken by tenants\[\d\]/);
  });
});

describe("volume init", () => {
  it("chowns and chmods innermost first, delivers 0400 files owned by the reader, and refuses escaping paths", () => {
    const a = volumeInitArgs({ uid: 7000, gid: 7001, volumeName: "v", files: [{ path: "a/b/c.txt", content: "x" }, { path: "a/d.txt", content: "y" }, { path: "top", content: "z" }] });
    expect(a.command).toEqual(["chmod 0711 /state /state/a /state/a/b && chown 7000:7001 /state/a/b /state/a /state && chmod 0700 /state/a/b /state/a /state"]);
    expect(a.uploads).toEqual([
      { file: "/state/a/b/c.txt", content: "x", permissions: "0400", owner: "7000", group: "7001" },
      { file: "/state/a/d.txt", content: "y", permissions: "0400", owner: "7000", group: "7001" },
      { file: "/state/top", content: "z", permissions: "0400", owner: "7000", group: "7001" },
    ]);
    expect(a).toMatchObject({ user: "0:0", networkMode: "none", readOnly: false, capabilities: { drops: ["ALL"], adds: ["CHOWN", "FOWNER"] }, attach: true, restart: "no" });
    expect(() => volumeInitArgs({ uid: 7000, gid: 7000, volumeName: "v", files: [{ path: "../etc/passwd", content: "" }] })).toThrow(/without "\.\."/);
    expect(() => volumeInitArgs({ uid: 7000, gid: 7000, volumeName: "v", files: [{ path: "/abs", content: "" }] })).toThrow(/relative/);
  });
});
