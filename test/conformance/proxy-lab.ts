// The egress-proxy test bench the docker suites share: an internal network of the test's own
// (nothing on it reaches outside) and hardened containers on fixed addresses — the egress proxy
// image running a given Squid config, and idle Node containers to probe from or serve on.
// Everything carries the `octw.test` label of the run, so a sweep finds what a crash left.
import { renderSquidConfig } from "@octw/pulumi";
import type Dockerode from "dockerode";

/** An internal bridge network on `subnet`, labelled with the run. */
export function internalNetwork(docker: Dockerode, run: string, subnet: string, name = "net"): Promise<Dockerode.Network> {
  return docker.createNetwork({ Name: `${run}-${name}`, Driver: "bridge", Internal: true, Labels: { "octw.test": run }, IPAM: { Config: [{ Subnet: subnet }] }, Options: { "com.docker.network.bridge.inhibit_ipv4": "true" } });
}

export interface LabContainer {
  run: string;
  /** Name within the run (`<run>-<name>`). */
  name: string;
  image: string;
  /** uid:gid */
  user: string;
  ip: string;
  cmd?: string[];
  env?: string[];
  /** Labels besides `octw.test`. */
  labels?: Record<string, string>;
  /** Writable tmpfs mounts (the root file system is read-only). */
  tmpfs?: string[];
  binds?: string[];
  aliases?: string[];
}

/** A container with the platform's hardening (read-only root, no capabilities, no new privileges), not started. */
export function labContainer(docker: Dockerode, network: Dockerode.Network, c: LabContainer): Promise<Dockerode.Container> {
  return docker.createContainer({
    name: `${c.run}-${c.name}`,
    Image: c.image,
    User: c.user,
    ...(c.cmd ? { Cmd: c.cmd } : {}),
    ...(c.env ? { Env: c.env } : {}),
    Labels: { "octw.test": c.run, ...c.labels },
    HostConfig: {
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: network.id,
      ...(c.binds ? { Binds: c.binds } : {}),
      Tmpfs: Object.fromEntries((c.tmpfs ?? ["/tmp"]).map((p) => [p, "rw,nosuid,nodev,noexec,size=16m,mode=1777"])),
    },
    NetworkingConfig: { EndpointsConfig: { [network.id]: { IPAMConfig: { IPv4Address: c.ip }, ...(c.aliases ? { Aliases: c.aliases } : {}) } } },
  });
}

/** The egress proxy image running `squidConfig`, as the platform runs it (container name `<run>-egress`). */
export function egressProxyContainer(docker: Dockerode, network: Dockerode.Network, c: Omit<LabContainer, "name" | "cmd" | "env" | "tmpfs"> & { squidConfig: string }): Promise<Dockerode.Container> {
  const { squidConfig, ...rest } = c;
  return labContainer(docker, network, {
    ...rest,
    name: "egress",
    env: [`OCTW_SQUID_CONFIG_B64=${Buffer.from(squidConfig).toString("base64")}`],
    tmpfs: ["/tmp", "/run/squid", "/var/spool/squid", "/var/log/squid"],
  });
}

/** A Node container that only waits (probes run in it with `docker exec`). */
export function idleNodeContainer(docker: Dockerode, network: Dockerode.Network, c: Omit<LabContainer, "cmd">): Promise<Dockerode.Container> {
  return labContainer(docker, network, { ...c, cmd: ["/usr/local/bin/node", "-e", "setInterval(() => {}, 1e9)"] });
}

/** A tenant's egress proxy with an empty allowlist (it refuses every destination), labelled as the platform labels it. */
export function denyAllTenantProxy(docker: Dockerode, network: Dockerode.Network, c: { run: string; tenant: string; image: string; user: string; ip: string }): Promise<Dockerode.Container> {
  return egressProxyContainer(docker, network, {
    run: c.run,
    image: c.image,
    user: c.user,
    ip: c.ip,
    squidConfig: renderSquidConfig({ tenantId: c.tenant, rules: [] }),
    labels: { "octw.tenant": c.tenant, "octw.component": "egress-proxy" },
  });
}
