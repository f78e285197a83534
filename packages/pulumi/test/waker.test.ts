import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform, Waker, WAKER_PORT } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});
const IMAGE = `sha256:${"7".repeat(64)}`;

describe("Waker component", () => {
  it("is hardened like the other node services, holds the socket by group only (the waker process's, through setpriv), sits on the control network only, and keeps its token secret", async () => {
    await settle();
    recorder.reset();
    new Waker("w1", { image: IMAGE, controlNetworkName: "octwtest-control", auditConnectionUrl: pulumi.secret("postgres://writer:pw@db/audit"), dockerSocketGid: 998, namePrefix: "octwtest" });
    await settle();
    const containers = recorder.ofType(TYPES.container);
    const waker = containers.find((c) => c.inputs.name === "octwtest-waker")!;
    const w = waker.inputs as {
      user: string; groupAdds: string[]; networksAdvanced: { name: string }[]; mounts: { type: string; source: string; target: string }[]; readOnly: boolean; privileged: boolean;
      capabilities: { drops: string[]; adds?: string[] }; securityOpts: string[]; ports?: unknown[]; envs: string[]; healthcheck: { tests: string[] }; labels: { label: string; value: string }[];
    };
    // Root only until setpriv (the first word of its command) drops to 10005 + the socket's group;
    // CAP_SETUID/CAP_SETGID only, for the jobs reader's uid (components/waker.ts wakerProcessArgs).
    expect(w).toMatchObject({ user: "0:0", readOnly: true, privileged: false, capabilities: { drops: ["ALL"], adds: ["SETGID", "SETUID"] } });
    expect(w.groupAdds ?? []).toEqual([]);
    const command = (waker.inputs as { command: string[] }).command;
    expect(command.slice(0, 4)).toEqual(["/usr/bin/setpriv", "--reuid=10005", "--regid=10005", "--groups=998"]);
    expect(w.securityOpts).toContain("no-new-privileges:true");
    expect(w.networksAdvanced.map((n) => n.name)).toEqual(["octwtest-control"]);
    expect(w.ports ?? []).toEqual([]);
    expect(w.mounts).toContainEqual({ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" });
    expect(w.healthcheck.tests).toContain("healthcheck");
    // no secret in the environment
    expect(w.envs.join("\n")).not.toMatch(/pw-|postgres:/);
    expect(w.labels).toContainEqual({ label: "octw.component", value: "waker" });

    const init = containers.find((c) => c.inputs.name === "octwtest-waker-state-init")!;
    const uploads = init.inputs.uploads as { file: string; content: string; permissions: string }[];
    const cfg = JSON.parse(uploads.find((u) => u.file === "/state/config/config.json")!.content) as { platform: string; listen: { port: number }; tokenFile: string };
    expect(cfg).toMatchObject({ platform: "octwtest", listen: { port: WAKER_PORT }, tokenFile: "/var/lib/octw-waker/secrets/waker-token" });
    expect(uploads.find((u) => u.file === "/state/secrets/waker-token")).toMatchObject({ content: "pw-w1-token", permissions: "0400" });
    // the token and the audit URL arrive only as secret uploads
    expect(init.secretPaths.some((p) => p.startsWith("uploads"))).toBe(true);
    expect(JSON.stringify(uploads.find((u) => u.file === "/state/config/config.json"))).not.toMatch(/pw-|postgres:/);
  });

  it("refuses bad input naming the field, and registers nothing", async () => {
    await settle();
    recorder.reset();
    expect(() => new Waker("w2", { image: IMAGE, controlNetworkName: "n", auditConnectionUrl: "u", dockerSocketGid: 0 })).toThrow(/dockerSocketGid: must be the socket's group/);
    expect(() => new Waker("w3", { image: "octw/waker:latest", controlNetworkName: "n", auditConnectionUrl: "u", dockerSocketGid: 998 })).toThrow(/image: /);
    expect(() => new Waker("w4", { image: IMAGE, controlNetworkName: "n", auditConnectionUrl: "u", dockerSocketGid: 998, wakeTimeoutMs: 5 })).toThrow(/wakeTimeoutMs/);
    await settle();
    expect(recorder.resources).toEqual([]);
  });

  it("every gateway and egress proxy of a platform carries octw.platform=<prefix> (what the waker selects on); shared services are no tenant's", async () => {
    await settle();
    recorder.reset();
    new OpenClawPlatform("p1", { prefix: "octwtest", images: PINNED, tenants: [{ id: "alpha", slot: 1 }, { id: "bravo", slot: 2 }], audit: { mode: "embedded" } });
    await settle();
    const label = (c: { inputs: Record<string, unknown> }, k: string) => (c.inputs.labels as { label: string; value: string }[] | undefined)?.find((l) => l.label === k)?.value;
    const parts = recorder.ofType(TYPES.container).filter((c) => ["gateway", "egress-proxy"].includes(label(c, "octw.component") ?? ""));
    expect(parts.map((c) => `${label(c, "octw.tenant")}/${label(c, "octw.component")}`).sort()).toEqual(["alpha/egress-proxy", "alpha/gateway", "bravo/egress-proxy", "bravo/gateway"]);
    for (const c of parts) expect(label(c, "octw.platform"), String(c.inputs.name)).toBe("octwtest");
    const db = recorder.ofType(TYPES.container).find((c) => label(c, "octw.component") === "audit-postgres")!;
    expect(label(db, "octw.tenant")).toBeUndefined();
  });
});
