// The ssh:// transport of the dynamic resources' engine requests (engineRequest): the ssh client
// runs `docker system dial-stdio` on the host, as pulumi-docker does for an ssh:// provider. No
// sshd here and no remote host: a stand-in `ssh` first on PATH records its arguments and runs the
// remote command locally, so the request really travels through dial-stdio to this engine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineRequest } from "../../packages/pulumi/src/components/engine-request";
import { engine } from "./env";
import { installFakeSsh, type FakeSsh } from "./fake-ssh";

let ssh: FakeSsh;

beforeAll(async () => {
  await engine(); // the engine answers (a failure, never a skip)
  ssh = installFakeSsh();
});

afterAll(() => ssh?.remove());

describe("engineRequest over ssh://", () => {
  it("runs docker system dial-stdio through the ssh client with the host's options, and the engine answers", async () => {
    const engineB = { host: "ssh://octw@host-b.example:2222", sshOpts: ["-o", "BatchMode=yes"] };
    const ping = await engineRequest(engineB, "GET", "/_ping", undefined);
    expect(ping).toEqual({ status: 200, text: "OK" });
    expect(ssh.sessions().at(-1)).toBe("-o BatchMode=yes -p 2222 -- octw@host-b.example docker system dial-stdio");
    // a request with a body travels too (the engine reads and refuses it: the payload arrived)
    const r = await engineRequest(engineB, "POST", "/networks/octw-no-such-network-for-ssh-test/connect", { type: "application/json", data: Buffer.from(JSON.stringify({ Container: "none" })) });
    expect(r.status).toBe(404);
  });

  it("an ssh client that cannot connect fails the request (it does not hang)", async () => {
    ssh.failConnect();
    try {
      await expect(engineRequest({ host: "ssh://octw@host-b.example" }, "GET", "/_ping", undefined)).rejects.toThrow();
    } finally {
      ssh.restore();
    }
  }, 20_000);
});
