// The hosts file the backup and move commands read: problems name the field and the rule, never
// the value (an endpoint may carry a credential); tcp:// needs TLS; TLS material is read from the
// files it names.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hostEngine, loadHosts } from "../src/backup/hosts-file";

const dir = mkdtempSync(join(tmpdir(), "octw-hosts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (content: unknown) => {
  const p = join(dir, `h${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
};

describe("hosts file", () => {
  it("reads unix and TLS hosts; names them in errors", () => {
    for (const f of ["ca", "cert", "key"]) writeFileSync(join(dir, `${f}.pem`), `PEM ${f}`);
    const hosts = loadHosts(file({ hosts: [{ name: "home", endpoint: "unix:///var/run/docker.sock" }, { name: "b", endpoint: "tcp://10.0.0.12:2376", tls: { caFile: join(dir, "ca.pem"), certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") } }] }));
    expect([...hosts.keys()]).toEqual(["home", "b"]);
    expect(hosts.get("b")!.endpoint.tls).toEqual({ ca: "PEM ca", cert: "PEM cert", key: "PEM key" });
    expect(() => hostEngine(hosts, "c", "--to")).toThrow("--to: must be one of the hosts of the hosts file (home, b)");
  });

  it("reads an ssh:// host with its client options (control: the same options on a unix host are refused below)", () => {
    const hosts = loadHosts(file({ hosts: [{ name: "b", endpoint: "ssh://octw@host-b.example:2222", sshOpts: ["-o", "BatchMode=yes"] }] }));
    expect(hosts.get("b")!.endpoint).toEqual({ name: "b", url: "ssh://octw@host-b.example:2222", sshOpts: ["-o", "BatchMode=yes"] });
  });

  it("without a file: one host, local, the engine of DOCKER_HOST", () => {
    const saved = process.env.OCTW_HOSTS_FILE;
    delete process.env.OCTW_HOSTS_FILE;
    try {
      expect([...loadHosts(undefined).keys()]).toEqual(["local"]);
    } finally {
      if (saved !== undefined) process.env.OCTW_HOSTS_FILE = saved;
    }
  });

  it("refuses plaintext tcp, other schemes, duplicates and bad names — naming the field, never the endpoint", () => {
    const secret = "tcp://user:hunter2-secret@10.0.0.12:2376";
    const cases: [unknown, RegExp][] = [
      [{ hosts: [{ name: "b", endpoint: secret }] }, /hosts\[0\]\.tls: is required for a tcp:\/\/ endpoint/],
      [{ hosts: [{ name: "b", endpoint: "http://octw@host-b" }] }, /hosts\[0\]\.endpoint: must be unix:\/\/\/path, tcp:\/\/address:port or ssh:\/\/user@host\[:port\]/],
      [{ hosts: [{ name: "b", endpoint: "ssh://octw:hunter2-secret@host-b" }] }, /hosts\[0\]\.endpoint: an ssh:\/\/ endpoint must be ssh:\/\/user@host\[:port\] \(no password, no path\)/],
      [{ hosts: [{ name: "b", endpoint: "ssh://host-b" }] }, /hosts\[0\]\.endpoint: an ssh:\/\/ endpoint must be/],
      [{ hosts: [{ name: "b", endpoint: "ssh://octw@host-b/hunter2-secret" }] }, /hosts\[0\]\.endpoint: an ssh:\/\/ endpoint must be/],
      [{ hosts: [{ name: "b", endpoint: "unix:///x", sshOpts: ["-i", "k"] }] }, /hosts\[0\]\.sshOpts: applies to an ssh:\/\/ endpoint only/],
      [{ hosts: [{ name: "b", endpoint: "ssh://octw@host-b", tls: { caFile: "a", certFile: "b", keyFile: "c" } }] }, /hosts\[0\]\.tls: applies to a tcp:\/\/ endpoint only/],
      [{ hosts: [{ name: "a", endpoint: "unix:///x" }, { name: "a", endpoint: "unix:///y" }] }, /hosts\[1\]\.name: is used twice/],
      [{ hosts: [{ name: "B!", endpoint: "unix:///x" }] }, /hosts\[0\]\.name: must be a host name/],
      [{ hosts: [] }, /--hosts: hosts:/],
      ["not json", /--hosts: cannot read the hosts file as JSON/],
    ];
    for (const [content, want] of cases) {
      let message = "";
      try {
        loadHosts(file(content));
      } catch (e) {
        message = String(e);
      }
      expect(message).toMatch(want);
      expect(message).not.toContain("hunter2");
    }
  });
});
