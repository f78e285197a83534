/**
 * scripts/test-env/engine.sh's engine start, shared by the test environment (ensure_engine:
 * dockerd --dns <test address>) and `npm run up` (ensure_engine_running: Debian's dockerd as
 * Debian ships it). The machine's real engine is never touched: the functions run with a fake
 * docker client (it answers once the fake `setsid`/`systemctl` has "started" the engine),
 * and root, Debian, systemd and a running dockerd are set per case.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPTS = new URL("../../../scripts/test-env/", import.meta.url).pathname;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Machine {
  root?: boolean;
  debian?: boolean;
  systemd?: boolean;
  /** a dockerd process exists (whether or not it answers) */
  dockerd?: boolean;
  /** the engine answers before anything is started */
  answering?: boolean;
  dockerHost?: string;
}

function sandbox(m: Machine) {
  const dir = mkdtempSync(join(tmpdir(), "octw-engine-"));
  dirs.push(dir);
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const calls = join(dir, "calls.txt");
  const up = join(dir, "engine-up");
  if (m.answering) writeFileSync(up, "");
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >> ${JSON.stringify(calls)}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool("docker", `[ -f ${JSON.stringify(up)} ] && echo 27.5.1`);
  tool("setsid", `touch ${JSON.stringify(up)}`);
  tool("systemctl", `case "$1" in start|restart) touch ${JSON.stringify(up)} ;; esac`);
  const dropin = join(dir, "docker.service.d", "octw-test-dns.conf");
  const flag = (b: boolean | undefined) => (b ? "0" : "1");
  const script = `
set -euo pipefail
. ${JSON.stringify(join(SCRIPTS, "common.sh"))}
. ${JSON.stringify(join(SCRIPTS, "engine.sh"))}
DOCKER=${JSON.stringify(join(bin, "docker"))}
OCTW_DOCKERD_LOG=${JSON.stringify(join(dir, "dockerd.log"))}
OCTW_TEST_DNS_DROPIN=${JSON.stringify(dropin)}
engine_is_root() { return ${flag(m.root)}; }
engine_on_debian() { return ${flag(m.debian)}; }
systemd_is_init() { return ${flag(m.systemd)}; }
dockerd_pid() { ${m.dockerd ? "echo 4242" : "return 1"}; }
ensure_debian_packages() { echo "apt $*" >> ${JSON.stringify(calls)}; }
`;
  const run = (body: string) => {
    const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, OCTW_STATE_DIR: join(dir, ".octw") };
    if (m.dockerHost) env.DOCKER_HOST = m.dockerHost;
    const r = spawnSync("bash", ["-c", script + body], { cwd: dir, env, encoding: "utf8" });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };
  const callList = () => (existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : []);
  /** Calls that change the machine (not the client's `docker version` polls). */
  const actions = () => callList().filter((l) => !l.startsWith("docker "));
  return { run, actions, dropin };
}

const UP = 'if ensure_engine_running; then echo "ENGINE OK"; else echo "MISSING: $ENGINE_MISSING"; fi';

describe("ensure_engine_running (npm run up)", () => {
  it("uses an engine that answers as it is: installs, starts and restarts nothing", () => {
    const s = sandbox({ answering: true, root: true, debian: true, dockerd: true });
    const r = s.run(UP);
    expect(r.out.trim()).toBe("ENGINE OK");
    expect(s.actions()).toEqual([]);
  });

  it("with DOCKER_HOST naming an absent socket, says so exactly and starts nothing (even as root on Debian)", () => {
    const s = sandbox({ dockerHost: "unix:///tmp/nonexistent.sock", root: true, debian: true });
    const r = s.run(UP);
    expect(r.out.trim()).toBe(
      "MISSING: a Docker engine answering on DOCKER_HOST=unix:///tmp/nonexistent.sock. Start the engine it names, or unset DOCKER_HOST to use unix:///var/run/docker.sock (as root on Debian, npm run up installs and starts that one itself).",
    );
    expect(s.actions()).toEqual([]);
  });

  it("as root on Debian without systemd, installs docker.io and starts dockerd with no --dns (the host's resolvers)", () => {
    const s = sandbox({ root: true, debian: true });
    const r = s.run(UP);
    expect(r.out).toContain("no Docker engine answers on unix:///var/run/docker.sock: starting Debian's");
    expect(r.out.trim().split("\n").at(-1)).toBe("ENGINE OK");
    expect(s.actions()).toEqual(["apt docker.io iptables", "setsid -f /usr/sbin/dockerd --pidfile /var/run/docker.pid"]);
  });

  it("as root on Debian with systemd, starts docker.service as configured and writes no DNS drop-in", () => {
    const s = sandbox({ root: true, debian: true, systemd: true });
    const r = s.run(UP);
    expect(r.out.trim().split("\n").at(-1)).toBe("ENGINE OK");
    expect(s.actions()).toEqual(["apt docker.io iptables", "systemctl start docker.service"]);
    expect(existsSync(s.dropin)).toBe(false);
  });

  it("not root: names the command to run, installs nothing", () => {
    const s = sandbox({ debian: true });
    expect(s.run(UP).out.trim()).toBe(
      "MISSING: a Docker engine answering on unix:///var/run/docker.sock. Run npm run up as root (sudo npm run up): it installs and starts Debian's docker.io itself. Or do that yourself: sudo apt-get install -y docker.io iptables && sudo systemctl start docker.service (without systemd: sudo dockerd &).",
    );
    expect(s.actions()).toEqual([]);
  });

  it("not root while dockerd runs: the user lacks access to it", () => {
    const s = sandbox({ debian: true, dockerd: true });
    const out = s.run(UP).out.trim();
    expect(out).toMatch(/^MISSING: access to the Docker engine on unix:\/\/\/var\/run\/docker\.sock: dockerd runs but does not answer user \S+\. Run npm run up as root \(sudo npm run up\), or add the user to the docker group/);
    expect(s.actions()).toEqual([]);
  });

  it("not Debian: says it does not install an engine there", () => {
    const s = sandbox({ root: true });
    expect(s.run(UP).out.trim()).toBe(
      "MISSING: a Docker engine answering on unix:///var/run/docker.sock. This is not Debian (no /etc/debian_version or no apt-get), so npm run up does not install one: install Docker Engine for this system, start it, and run npm run up again.",
    );
    expect(s.actions()).toEqual([]);
  });
});

describe("start_engine: the same start, with the test address for the tests", () => {
  it("without systemd: dockerd gets --dns <test address> only when the test environment asks", () => {
    const tests = sandbox({});
    expect(tests.run('start_engine "$OCTW_TEST_DNS_ADDR"').status).toBe(0);
    expect(tests.actions()).toEqual([`setsid -f /usr/sbin/dockerd --dns 198.18.53.53 --pidfile /var/run/docker.pid`]);
    const main = sandbox({});
    expect(main.run("start_engine").status).toBe(0);
    expect(main.actions()).toEqual([`setsid -f /usr/sbin/dockerd --pidfile /var/run/docker.pid`]);
  });

  it("with systemd: the test address goes into a drop-in and docker.service is restarted", () => {
    const s = sandbox({ systemd: true });
    expect(s.run('start_engine "$OCTW_TEST_DNS_ADDR"').status).toBe(0);
    expect(s.actions()).toEqual(["systemctl daemon-reload", "systemctl restart docker.service"]);
    expect(readFileSync(s.dropin, "utf8")).toContain("--dns 198.18.53.53 --pidfile /var/run/docker.pid");
  });

});
