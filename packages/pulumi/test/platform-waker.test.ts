// The platform declares the waker when a tenant is suspendable: on the control network only (no
// tenant network, so no tenant reaches it), with its own audit role; the edge gets the waker's
// URL, the suspendable tenants' thresholds and the token as a secret 0400 file — the same token
// the waker checks — and never the engine socket.
import * as pulumi from "@pulumi/pulumi";
import { parseEdgeConfig } from "@octw/contracts";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform, type OpenClawPlatformArgs } from "../src/index.js";
import { platformPrincipals, sharedIdentities } from "../src/planners/identity-plan.js";
import { MockRecorder, PINNED, TYPES, settle, type RecordedResource } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});

const JWK = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "dev-1" };
const base = {
  prefix: "octwtest",
  images: { ...PINNED, edge: `sha256:${"e".repeat(64)}`, waker: `sha256:${"8".repeat(64)}` },
  edge: { jwt: { issuer: "https://issuer.test", audience: "octw", algorithms: ["ES256"], jwks: [JWK] } },
  audit: { mode: "embedded" },
};

async function declare(extra: Record<string, unknown>): Promise<RecordedResource[]> {
  await settle();
  recorder.reset();
  new OpenClawPlatform(`pw${Math.random().toString(36).slice(2, 8)}`, { ...base, ...extra } as unknown as OpenClawPlatformArgs);
  await settle();
  return recorder.resources;
}
const container = (rs: RecordedResource[], name: string) => rs.find((r) => r.type === TYPES.container && r.inputs.name === name);
const uploads = (r: RecordedResource) => r.inputs.uploads as { file: string; content: string; permissions: string }[];

describe("OpenClawPlatform declares the waker for suspendable tenants", () => {
  it("waker on the control network only; the edge gets its URL, the thresholds and the same token as a secret file", async () => {
    const rs = await declare({
      waker: { dockerSocketGid: 998 },
      suspend: { pauseAfterS: 60, stopAfterS: 600 },
      tenants: [{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2, suspend: "alwaysOn" }, { id: "charlie", slot: 3, suspend: { stopAfterS: 30 } }],
    });
    const waker = container(rs, "octwtest-waker")!;
    expect(waker).toBeDefined();
    expect((waker.inputs.networksAdvanced as { name: string }[]).map((n) => n.name)).toEqual(["octwtest-control"]);
    // Starts as root with CAP_SETUID/CAP_SETGID only and drops at once to 10005 with the socket's
    // group (setpriv); the group is not the container's, so the jobs reader (10006) it starts never has it.
    expect(waker.inputs.groupAdds ?? []).toEqual([]);
    expect(waker.inputs.user).toBe("0:0");
    expect(waker.inputs.capabilities).toEqual({ drops: ["ALL"], adds: ["SETGID", "SETUID"] });
    expect(waker.inputs.securityOpts).toContain("no-new-privileges:true");
    const cmd = waker.inputs.command as string[];
    expect(cmd.slice(0, cmd.indexOf("--"))).toEqual(["/usr/bin/setpriv", "--reuid=10005", "--regid=10005", "--groups=998", "--inh-caps=+setgid,+setuid", "--ambient-caps=+setgid,+setuid"]);
    expect(cmd.slice(cmd.indexOf("--") + 1)).toEqual(["/usr/local/bin/node", "--import", "tsx", "/opt/octw-waker/packages/waker/src/main.ts"]);
    expect((waker.inputs.healthcheck as { tests: string[] }).tests.slice(0, 6)).toEqual(["CMD", "/usr/bin/setpriv", "--reuid=10005", "--regid=10005", "--clear-groups", "--"]);
    const wakerConfig = JSON.parse(uploads(container(rs, "octwtest-waker-state-init")!).find((u) => u.file === "/state/config/config.json")!.content) as { jobs: { reader: unknown } };
    expect(wakerConfig.jobs.reader).toEqual({ uid: 10006, gid: 10006 });
    // No tenant network attachment of the waker (tenants cannot reach it); the edge's and router's are the only attachments.
    const attachments = rs.filter((r) => r.type.includes("NetworkAttachment") || r.name.endsWith("-attachment"));
    expect(attachments.length).toBeGreaterThan(0); // positive control: the edge is attached to tenant networks
    expect(attachments.every((a) => /-edge-attachment$|-router-attachment$/.test(a.name))).toBe(true);

    const init = container(rs, "octwtest-edge-state-init")!;
    const files = uploads(init);
    const cfg = parseEdgeConfig(JSON.parse(files.find((u) => u.file === "/state/config/config.json")!.content));
    expect(cfg.wake).toMatchObject({
      wakerUrl: "http://octwtest-waker:8790",
      tokenFile: "/var/lib/octw-edge/secrets/waker-token",
      tenants: { alpha: { pauseAfterS: 60, stopAfterS: 600 }, charlie: { stopAfterS: 30 } },
    });
    expect(Object.keys(cfg.wake!.tenants)).not.toContain("bravo");
    const edgeToken = files.find((u) => u.file === "/state/secrets/waker-token")!;
    const wakerToken = uploads(container(rs, "octwtest-waker-state-init")!).find((u) => u.file === "/state/secrets/waker-token")!;
    expect(edgeToken.permissions).toBe("0400");
    expect(edgeToken.content).toBe(wakerToken.content);
    expect(init.secretPaths.some((p) => p.startsWith("uploads"))).toBe(true);
    expect(files.find((u) => u.file === "/state/config/config.json")!.content).not.toContain(wakerToken.content);
    // The edge holds no engine socket.
    const edge = container(rs, "octwtest-edge")!;
    expect(JSON.stringify(edge.inputs.mounts ?? [])).not.toContain("docker.sock");
    expect(edge.inputs.groupAdds ?? []).toEqual([]);
    // The waker writes audit as its own role.
    const url = new URL(uploads(container(rs, "octwtest-waker-state-init")!).find((u) => u.file === "/state/secrets/audit-db-url")!.content);
    expect(decodeURIComponent(url.username)).toBe("octwtest_audit_waker");
  });

  it("without a suspendable tenant there is no waker and the edge has no wake section", async () => {
    const rs = await declare({ waker: { dockerSocketGid: 998 }, tenants: [{ id: "alpha", slot: 1 }] });
    expect(container(rs, "octwtest-waker")).toBeUndefined();
    const cfg = JSON.parse(uploads(container(rs, "octwtest-edge-state-init")!).find((u) => u.file === "/state/config/config.json")!.content) as Record<string, unknown>;
    expect(cfg.wake).toBeUndefined();
    expect(container(rs, "octwtest-edge")).toBeDefined(); // positive control
  });
});

describe("the engine socket's group", () => {
  const tenant = { id: "a", gatewayUid: 200_004, gatewayGid: 200_004, egressProxyUid: 200_005, egressProxyGid: 200_005 };
  it("is shared by the socket holders (egress-audit, waker) without a clash", () => {
    const p = platformPrincipals({ tenants: [tenant], embeddedPostgres: true, edge: true, inferenceRouter: false, egressAudit: { dockerSocketGid: 998 }, waker: { dockerSocketGid: 998 } });
    expect(p.find((x) => x.role === "waker")).toMatchObject({ uid: 10005, gid: 10005, groups: [998] });
    // the jobs reader: ids of its own, in no group (above all not the socket's)
    expect(p.find((x) => x.role === "waker-jobs-reader")).toMatchObject({ uid: 10006, gid: 10006, groups: [] });
    expect(sharedIdentities(p)).toEqual([]);
  });
  it("clashes when anybody else has it (a tenant's gid), whichever comes first", () => {
    const p = platformPrincipals({ tenants: [{ ...tenant, gatewayGid: 998 }], embeddedPostgres: false, edge: false, inferenceRouter: false, waker: { dockerSocketGid: 998 } });
    expect(sharedIdentities(p)).toEqual(["gid:998 is held by tenant:a/gateway and service:waker/waker"]);
    expect(sharedIdentities([...p].reverse())).toEqual(["gid:998 is held by service:waker/waker and tenant:a/gateway"]);
  });
});
