import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { OpenClawPlatform } from "../src/index.js";
import { MockRecorder, PINNED, TYPES, settle } from "./harness.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});
const SHIPPER = `sha256:${"9".repeat(64)}`;

describe("egress denial shipper", () => {
  it("is opt-in, follows this platform's proxies by label, joins the socket's group only, and sits on the control network", async () => {
    await settle();
    recorder.reset();
    new OpenClawPlatform("s1", {
      prefix: "octwtest",
      images: { ...PINNED, egressAudit: SHIPPER },
      egressAudit: { dockerSocketGid: 998 },
      tenants: [{ id: "alpha", slot: 1 }],
      audit: { mode: "embedded" },
    });
    await settle();
    const containers = recorder.ofType(TYPES.container);
    const shipper = containers.find((c) => c.inputs.name === "octwtest-egress-audit")!.inputs as {
      user: string; groupAdds: string[]; networksAdvanced: { name: string }[]; mounts: { type: string; source: string; target: string }[]; readOnly: boolean; capabilities: { drops: string[] }; ports?: unknown[];
    };
    expect(shipper).toMatchObject({ user: "10004:10004", groupAdds: ["998"], readOnly: true, capabilities: { drops: ["ALL"] } });
    expect(shipper.networksAdvanced.map((n) => n.name)).toEqual(["octwtest-control"]);
    expect(shipper.mounts).toContainEqual({ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" });
    expect(shipper.ports ?? []).toEqual([]);
    const init = containers.find((c) => c.inputs.name === "octwtest-egress-audit-state-init")!;
    const cfg = JSON.parse((init.inputs.uploads as { file: string; content: string }[]).find((u) => u.file === "/state/config/config.json")!.content) as { labels: Record<string, string> };
    expect(cfg.labels).toEqual({ "octw.platform": "octwtest" });
    const proxy = containers.find((c) => c.inputs.name === "octwtest-alpha-egress")!;
    expect(proxy.inputs.labels).toContainEqual({ label: "octw.platform", value: "octwtest" });
  });

  it("is not declared unless asked for, and needs its image when it is", async () => {
    await settle();
    recorder.reset();
    new OpenClawPlatform("s2", { prefix: "octwtest", images: PINNED, tenants: [{ id: "alpha", slot: 1 }], audit: { mode: "embedded" } });
    await settle();
    expect(recorder.ofType(TYPES.container).map((c) => c.inputs.name)).not.toContain("octwtest-egress-audit");
    expect(() => new OpenClawPlatform("s3", { images: PINNED, egressAudit: { dockerSocketGid: 998 }, tenants: [{ id: "alpha", slot: 1 }], audit: { mode: "embedded" } })).toThrow(
      /images\.egressAudit: is required/,
    );
    expect(() => new OpenClawPlatform("s4", { images: { ...PINNED, egressAudit: SHIPPER }, egressAudit: { dockerSocketGid: 0 }, tenants: [{ id: "alpha", slot: 1 }], audit: { mode: "embedded" } })).toThrow(
      /egressAudit\.dockerSocketGid: must be the engine socket's group/,
    );
  });
});
