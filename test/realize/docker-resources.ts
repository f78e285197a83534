// Applies pulumi-docker v5.2.0 resources (Network, Volume, RemoteImage, Container) to the local
// engine through the Engine API, with the field semantics of the upstream provider
// (kreuzwerker/terraform-provider-docker `resource_docker_*_funcs.go`): units (memory in MB),
// defaults (logDriver json-file, restart "no", init false, start true, mustRun true), the
// create → disconnect/connect networks → upload → start → wait order. Every input key is either
// applied or rejected; nothing is dropped.
import type Dockerode from "dockerode";
import { parseGoDuration } from "./go-duration";
import { containerCreateChecks } from "./provider-model/docker";
import { tarArchive } from "./tar-archive";
import {
  bool, checkFields, fail, labelList, num, objList, str, strList, strMap,
} from "./field-check";

export const RUN_LABEL = "octw.realize.run";
/** pid of the test process that made the object: a later run sweeps objects of dead processes */
export const PID_LABEL = "octw.realize.pid";

export interface Realized {
  id: string;
  outputs: Record<string, unknown>;
  /** undoes the creation; never throws for "already gone" */
  destroy: () => Promise<void>;
}

export interface DockerContext {
  docker: Dockerode;
  runId: string;
  log: (line: string) => void;
  /** the engine's API version, once asked */
  apiVersion?: string;
}

const NET = "docker:index/network:Network";
const VOL = "docker:index/volume:Volume";
const IMG = "docker:index/remoteImage:RemoteImage";
const CTR = "docker:index/container:Container";

function statusOf(e: unknown): number | undefined {
  return typeof e === "object" && e !== null && "statusCode" in e ? (e as { statusCode: number }).statusCode : undefined;
}

async function ignoreGone(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    const s = statusOf(e);
    if (s === 404 || s === 304) return;
    throw e;
  }
}

function requireRunName(ctx: DockerContext, type: string, resName: string, objName: string): void {
  // Every engine object carries the run id in its name, so parallel and leftover runs never
  // collide, and a sweep by name can never touch something this run did not create.
  if (!objName.toLowerCase().includes(ctx.runId.toLowerCase())) {
    fail(type, resName, "name", `("${objName}") must contain the run id "${ctx.runId}" so runs cannot collide`);
  }
}

// ---------------------------------------------------------------------------------- Network
const NETWORK_FIELDS = ["name", "driver", "internal", "attachable", "ingress", "ipamConfigs", "ipamDriver", "ipamOptions", "ipv6", "labels", "options"];

export async function realizeNetwork(ctx: DockerContext, resName: string, a: Record<string, unknown>): Promise<Realized> {
  const T = NET;
  checkFields(T, resName, a, NETWORK_FIELDS);
  const name = str(T, resName, "name", a.name) ?? `${ctx.runId}-${resName}`;
  requireRunName(ctx, T, resName, name);
  if (bool(T, resName, "ingress", a.ingress)) fail(T, resName, "ingress", "is swarm-only; allowed: false/absent");
  const ipam = (objList(T, resName, "ipamConfigs", a.ipamConfigs) ?? []).map((c, i) => {
    checkFields(T, resName, c, ["subnet", "ipRange", "gateway", "auxAddress"], `ipamConfigs.${i}.`);
    const o: Record<string, unknown> = {};
    const subnet = str(T, resName, `ipamConfigs.${i}.subnet`, c.subnet);
    const ipRange = str(T, resName, `ipamConfigs.${i}.ipRange`, c.ipRange);
    const gateway = str(T, resName, `ipamConfigs.${i}.gateway`, c.gateway);
    const aux = strMap(T, resName, `ipamConfigs.${i}.auxAddress`, c.auxAddress);
    if (subnet) o.Subnet = subnet;
    if (ipRange) o.IPRange = ipRange;
    if (gateway) o.Gateway = gateway;
    if (aux) o.AuxiliaryAddresses = aux;
    return o;
  });
  const opts = {
    Name: name,
    Driver: str(T, resName, "driver", a.driver) ?? "bridge",
    Internal: bool(T, resName, "internal", a.internal) ?? false,
    Attachable: bool(T, resName, "attachable", a.attachable) ?? false,
    EnableIPv6: bool(T, resName, "ipv6", a.ipv6) ?? false,
    IPAM: {
      Driver: str(T, resName, "ipamDriver", a.ipamDriver) ?? "default",
      Config: ipam,
      Options: strMap(T, resName, "ipamOptions", a.ipamOptions) ?? {},
    },
    Options: strMap(T, resName, "options", a.options) ?? {},
    Labels: { ...labelList(T, resName, "labels", a.labels), [RUN_LABEL]: ctx.runId, [PID_LABEL]: String(process.pid) },
    CheckDuplicate: true,
  };
  const net = await ctx.docker.createNetwork(opts);
  ctx.log(`network ${name} created (${net.id.slice(0, 12)})`);
  const info = (await net.inspect()) as {
    Id: string; Name: string; Scope: string; Driver: string; Internal: boolean;
    IPAM: { Driver: string; Config: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[] };
  };
  return {
    id: info.Id,
    outputs: {
      name: info.Name,
      driver: info.Driver,
      scope: info.Scope,
      internal: info.Internal,
      ipamDriver: info.IPAM.Driver,
      ipamConfigs: (info.IPAM.Config ?? []).map((c) => ({
        subnet: c.Subnet, gateway: c.Gateway, ipRange: c.IPRange, auxAddress: c.AuxiliaryAddresses,
      })),
    },
    destroy: async () => {
      await ignoreGone(ctx.docker.getNetwork(info.Id).remove());
      ctx.log(`network ${name} removed`);
    },
  };
}

// ----------------------------------------------------------------------------------- Volume
export async function realizeVolume(ctx: DockerContext, resName: string, a: Record<string, unknown>): Promise<Realized> {
  const T = VOL;
  checkFields(T, resName, a, ["name", "driver", "driverOpts", "labels"]);
  const name = str(T, resName, "name", a.name) ?? `${ctx.runId}-${resName}`;
  requireRunName(ctx, T, resName, name);
  const opts = {
    Name: name,
    Driver: str(T, resName, "driver", a.driver) ?? "local",
    DriverOpts: strMap(T, resName, "driverOpts", a.driverOpts) ?? {},
    Labels: { ...labelList(T, resName, "labels", a.labels), [RUN_LABEL]: ctx.runId, [PID_LABEL]: String(process.pid) },
  };
  await ctx.docker.createVolume(opts);
  const info = (await ctx.docker.getVolume(name).inspect()) as { Name: string; Driver: string; Mountpoint: string };
  ctx.log(`volume ${name} created`);
  return {
    id: info.Name,
    outputs: { name: info.Name, driver: info.Driver, mountpoint: info.Mountpoint },
    destroy: async () => {
      await ignoreGone(ctx.docker.getVolume(name).remove({ force: true }));
      ctx.log(`volume ${name} removed`);
    },
  };
}

// ------------------------------------------------------------------------------ RemoteImage
export async function realizeRemoteImage(ctx: DockerContext, resName: string, a: Record<string, unknown>): Promise<Realized> {
  const T = IMG;
  // pullTriggers/triggers only decide when the provider re-pulls; keepLocally/forceRemove only
  // matter at delete, and this mock never deletes images it did not build.
  checkFields(T, resName, a, ["name", "keepLocally", "forceRemove", "pullTriggers", "triggers"]);
  const name = str(T, resName, "name", a.name);
  if (!name) fail(T, resName, "name", "is required");
  strList(T, resName, "pullTriggers", a.pullTriggers);
  strMap(T, resName, "triggers", a.triggers);
  bool(T, resName, "keepLocally", a.keepLocally);
  bool(T, resName, "forceRemove", a.forceRemove);
  type ImageInfo = { Id: string; RepoDigests?: string[]; RepoTags?: string[] };
  // kreuzwerker v4.5.0 resource_docker_image_funcs.go findImage: ImageInspect(name) — a local
  // image id ("sha256:<id>"), a tag or a registry digest the engine holds — else a pull. A
  // `repo@sha256:<local image id>` names a digest the engine does not have, so the provider
  // would pull it (and fail offline); this mock never pulls, so it fails here too.
  let info: ImageInfo | undefined;
  try {
    info = (await ctx.docker.getImage(name).inspect());
  } catch (e) {
    if (statusOf(e) !== 404) throw e;
  }
  const at = name.indexOf("@sha256:");
  if (!info) fail(T, resName, "name", `("${name}") is not present on the engine; the provider would pull it, and the realizing mock never pulls`);
  const repoDigest = at >= 0 ? name : (info.RepoDigests?.[0] ?? "");
  return {
    id: `${info.Id}${name}`,
    outputs: { imageId: info.Id, repoDigest },
    destroy: () => Promise.resolve(),
  };
}

// -------------------------------------------------------------------------------- Container
const CONTAINER_FIELDS = [
  "name", "image", "user", "hostname", "domainname", "command", "entrypoints", "envs", "labels",
  "capabilities", "securityOpts", "readOnly", "tmpfs", "mounts", "volumes", "networksAdvanced",
  "networkMode", "memory", "memorySwap", "memoryReservation", "cpus", "cpuShares", "cpuSet",
  "cpuPeriod", "cpuQuota", "ulimits", "healthcheck", "restart", "maxRetryCount", "uploads",
  "logDriver", "logOpts", "init", "dns", "dnsOpts", "dnsSearches", "hosts", "runtime", "ports",
  "start", "wait", "waitTimeout", "mustRun", "attach", "logs", "rm", "destroyGraceSeconds",
  "stopSignal", "stopTimeout", "shmSize", "groupAdds", "workingDir", "sysctls", "privileged",
  "publishAllPorts", "ipcMode", "pidMode", "usernsMode", "cgroupnsMode", "removeVolumes", "tty",
  "stdinOpen", "storageOpts",
];

const MB = 1024 * 1024;

interface ContainerPlan {
  name: string;
  create: Record<string, unknown>;
  /** networks connected after create, before start (the first one is given at create) */
  connect: { network: string; endpoint: Record<string, unknown> }[];
  uploads: { file: string; content: Buffer; mode: number; uid: number; gid: number }[];
  start: boolean;
  attach: boolean;
  logs: boolean;
  rm: boolean;
  mustRun: boolean;
  wait: boolean;
  waitTimeoutS: number;
  destroyGraceSeconds: number;
  removeVolumes: boolean;
}

function endpointOf(T: string, resName: string, n: Record<string, unknown>, i: number): { network: string; endpoint: Record<string, unknown> } {
  const p = `networksAdvanced.${i}`;
  checkFields(T, resName, n, ["name", "aliases", "ipv4Address", "ipv6Address", "linkLocalIps"], `${p}.`);
  const network = str(T, resName, `${p}.name`, n.name);
  if (!network) fail(T, resName, `${p}.name`, "is required");
  const ipam: Record<string, unknown> = {};
  const v4 = str(T, resName, `${p}.ipv4Address`, n.ipv4Address);
  const v6 = str(T, resName, `${p}.ipv6Address`, n.ipv6Address);
  const ll = strList(T, resName, `${p}.linkLocalIps`, n.linkLocalIps);
  if (v4) ipam.IPv4Address = v4;
  if (v6) ipam.IPv6Address = v6;
  if (ll?.length) ipam.LinkLocalIPs = ll;
  const endpoint: Record<string, unknown> = { IPAMConfig: ipam };
  const aliases = strList(T, resName, `${p}.aliases`, n.aliases);
  if (aliases?.length) endpoint.Aliases = aliases;
  return { network, endpoint };
}

function parseOwner(T: string, resName: string, field: string, v: unknown): number {
  const s = str(T, resName, field, v);
  if (s === undefined || s === "") return 0;
  if (!/^\d+$/.test(s)) fail(T, resName, field, `("${s}") must be a numeric id (no passwd lookup inside a read-only image)`);
  return Number(s);
}

export function planContainer(runId: string, resName: string, a: Record<string, unknown>): ContainerPlan {
  const T = CTR;
  checkFields(T, resName, a, CONTAINER_FIELDS);
  const name = str(T, resName, "name", a.name) ?? `${runId}-${resName}`;
  if (!name.toLowerCase().includes(runId.toLowerCase())) {
    fail(T, resName, "name", `("${name}") must contain the run id "${runId}" so runs cannot collide`);
  }
  const image = str(T, resName, "image", a.image);
  if (!image) fail(T, resName, "image", "is required");
  if (bool(T, resName, "privileged", a.privileged)) fail(T, resName, "privileged", "must be false or absent");

  const config: Record<string, unknown> = {
    Image: image,
    Hostname: str(T, resName, "hostname", a.hostname) ?? "",
    Domainname: str(T, resName, "domainname", a.domainname) ?? "",
    Tty: bool(T, resName, "tty", a.tty) ?? false,
    OpenStdin: bool(T, resName, "stdinOpen", a.stdinOpen) ?? false,
    Labels: { ...labelList(T, resName, "labels", a.labels), [RUN_LABEL]: runId, [PID_LABEL]: String(process.pid) },
  };
  const envs = strList(T, resName, "envs", a.envs);
  if (envs?.length) config.Env = envs;
  const cmd = strList(T, resName, "command", a.command);
  if (cmd?.length) {
    if (cmd.some((c) => c === "")) fail(T, resName, "command", "values may not be empty");
    config.Cmd = cmd;
  }
  const ep = strList(T, resName, "entrypoints", a.entrypoints);
  if (ep?.length) config.Entrypoint = ep;
  const user = str(T, resName, "user", a.user);
  if (user) config.User = user;
  const wd = str(T, resName, "workingDir", a.workingDir);
  if (wd) config.WorkingDir = wd;
  const stopSignal = str(T, resName, "stopSignal", a.stopSignal);
  if (stopSignal) config.StopSignal = stopSignal;
  const stopTimeout = num(T, resName, "stopTimeout", a.stopTimeout);
  if (stopTimeout !== undefined) config.StopTimeout = stopTimeout;

  if (a.healthcheck !== undefined) {
    const h = a.healthcheck as Record<string, unknown>;
    if (typeof h !== "object" || h === null) fail(T, resName, "healthcheck", "must be an object");
    checkFields(T, resName, h, ["tests", "interval", "timeout", "startPeriod", "retries"], "healthcheck.");
    const hc: Record<string, unknown> = {};
    const tests = strList(T, resName, "healthcheck.tests", h.tests);
    if (tests) hc.Test = tests;
    for (const [k, api] of [["interval", "Interval"], ["timeout", "Timeout"], ["startPeriod", "StartPeriod"]] as const) {
      const s = str(T, resName, `healthcheck.${k}`, h[k]);
      if (s === undefined) continue;
      const ns = parseGoDuration(s);
      if (ns === undefined) fail(T, resName, `healthcheck.${k}`, `("${s}") must be a Go duration like 5s, 1m0s`);
      hc[api] = ns;
    }
    const retries = num(T, resName, "healthcheck.retries", h.retries);
    if (retries !== undefined) hc.Retries = retries;
    config.Healthcheck = hc;
  }

  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const [i, p] of (objList(T, resName, "ports", a.ports) ?? []).entries()) {
    checkFields(T, resName, p, ["internal", "external", "ip", "protocol"], `ports.${i}.`);
    const internal = num(T, resName, `ports.${i}.internal`, p.internal);
    if (internal === undefined) fail(T, resName, `ports.${i}.internal`, "is required");
    const key = `${internal}/${str(T, resName, `ports.${i}.protocol`, p.protocol) ?? "tcp"}`;
    exposed[key] = {};
    const ext = num(T, resName, `ports.${i}.external`, p.external);
    (bindings[key] ??= []).push({ HostIp: str(T, resName, `ports.${i}.ip`, p.ip) ?? "0.0.0.0", HostPort: ext === undefined ? "" : String(ext) });
  }
  if (Object.keys(exposed).length) config.ExposedPorts = exposed;

  const binds: string[] = [];
  const volumesFrom: string[] = [];
  const anonVolumes: Record<string, object> = {};
  for (const [i, v] of (objList(T, resName, "volumes", a.volumes) ?? []).entries()) {
    const p = `volumes.${i}`;
    checkFields(T, resName, v, ["containerPath", "hostPath", "volumeName", "fromContainer", "readOnly"], `${p}.`);
    const from = str(T, resName, `${p}.fromContainer`, v.fromContainer);
    const cp = str(T, resName, `${p}.containerPath`, v.containerPath);
    const src = str(T, resName, `${p}.hostPath`, v.hostPath) ?? str(T, resName, `${p}.volumeName`, v.volumeName);
    const ro = bool(T, resName, `${p}.readOnly`, v.readOnly) ?? false;
    if (from) volumesFrom.push(from);
    else if (src) {
      if (!cp) fail(T, resName, `${p}.containerPath`, "is required with hostPath/volumeName");
      binds.push(`${src}:${cp}${ro ? ":ro" : ""}`);
    } else if (cp) anonVolumes[cp] = {};
    else fail(T, resName, p, "needs containerPath, hostPath/volumeName or fromContainer");
  }
  if (Object.keys(anonVolumes).length) config.Volumes = anonVolumes;

  const mounts = (objList(T, resName, "mounts", a.mounts) ?? []).map((m, i) => {
    const p = `mounts.${i}`;
    checkFields(T, resName, m, ["target", "type", "source", "readOnly", "bindOptions", "volumeOptions", "tmpfsOptions"], `${p}.`);
    const type = str(T, resName, `${p}.type`, m.type);
    if (type !== "bind" && type !== "volume" && type !== "tmpfs") fail(T, resName, `${p}.type`, "must be bind, volume or tmpfs");
    const out: Record<string, unknown> = {
      Type: type,
      Target: str(T, resName, `${p}.target`, m.target),
      Source: str(T, resName, `${p}.source`, m.source) ?? "",
      ReadOnly: bool(T, resName, `${p}.readOnly`, m.readOnly) ?? false,
    };
    if (!out.Target) fail(T, resName, `${p}.target`, "is required");
    const bo = m.bindOptions as Record<string, unknown> | undefined;
    const vo = m.volumeOptions as Record<string, unknown> | undefined;
    const to = m.tmpfsOptions as Record<string, unknown> | undefined;
    if (bo !== undefined) {
      if (type !== "bind") fail(T, resName, `${p}.bindOptions`, "only with type bind");
      checkFields(T, resName, bo, ["propagation"], `${p}.bindOptions.`);
      out.BindOptions = { Propagation: str(T, resName, `${p}.bindOptions.propagation`, bo.propagation) };
    }
    if (vo !== undefined) {
      if (type !== "volume") fail(T, resName, `${p}.volumeOptions`, "only with type volume");
      checkFields(T, resName, vo, ["noCopy", "labels", "driverName", "driverOptions"], `${p}.volumeOptions.`);
      const o: Record<string, unknown> = { NoCopy: bool(T, resName, `${p}.volumeOptions.noCopy`, vo.noCopy) ?? false };
      if (vo.labels !== undefined) o.Labels = labelList(T, resName, `${p}.volumeOptions.labels`, vo.labels);
      const dn = str(T, resName, `${p}.volumeOptions.driverName`, vo.driverName);
      const dopts = strMap(T, resName, `${p}.volumeOptions.driverOptions`, vo.driverOptions);
      if (dn || dopts) o.DriverConfig = { Name: dn ?? "", Options: dopts ?? {} };
      out.VolumeOptions = o;
    }
    if (to !== undefined) {
      if (type !== "tmpfs") fail(T, resName, `${p}.tmpfsOptions`, "only with type tmpfs");
      checkFields(T, resName, to, ["sizeBytes", "mode"], `${p}.tmpfsOptions.`);
      const o: Record<string, unknown> = {};
      const size = num(T, resName, `${p}.tmpfsOptions.sizeBytes`, to.sizeBytes);
      const mode = num(T, resName, `${p}.tmpfsOptions.mode`, to.mode);
      if (size !== undefined) o.SizeBytes = size;
      if (mode !== undefined) o.Mode = mode;
      out.TmpfsOptions = o;
    }
    return out;
  });

  const restart = str(T, resName, "restart", a.restart) ?? "no";
  if (!["no", "on-failure", "always", "unless-stopped"].includes(restart)) {
    fail(T, resName, "restart", `("${restart}") must be one of no, on-failure, always, unless-stopped`);
  }
  const rm = bool(T, resName, "rm", a.rm) ?? false;
  const attach = bool(T, resName, "attach", a.attach) ?? false;
  const host: Record<string, unknown> = {
    Privileged: false,
    PublishAllPorts: bool(T, resName, "publishAllPorts", a.publishAllPorts) ?? false,
    RestartPolicy: { Name: restart, MaximumRetryCount: num(T, resName, "maxRetryCount", a.maxRetryCount) ?? 0 },
    Mounts: mounts,
    // With attach+logs the mock removes the container itself after reading its logs, so the
    // logs cannot vanish under AutoRemove before they are read; the end state is the same.
    AutoRemove: rm && !attach,
    ReadonlyRootfs: bool(T, resName, "readOnly", a.readOnly) ?? false,
    LogConfig: { Type: str(T, resName, "logDriver", a.logDriver) ?? "json-file", Config: strMap(T, resName, "logOpts", a.logOpts) ?? {} },
    Init: bool(T, resName, "init", a.init) ?? false,
  };
  const tmpfs = strMap(T, resName, "tmpfs", a.tmpfs);
  if (tmpfs) host.Tmpfs = tmpfs;
  if (Object.keys(bindings).length) host.PortBindings = bindings;
  const hosts = (objList(T, resName, "hosts", a.hosts) ?? []).map((h, i) => {
    checkFields(T, resName, h, ["host", "ip"], `hosts.${i}.`);
    return `${str(T, resName, `hosts.${i}.host`, h.host)}:${str(T, resName, `hosts.${i}.ip`, h.ip)}`;
  });
  if (hosts.length) host.ExtraHosts = hosts;
  if (binds.length) host.Binds = binds;
  if (volumesFrom.length) host.VolumesFrom = volumesFrom;
  const ulimits = (objList(T, resName, "ulimits", a.ulimits) ?? []).map((u, i) => {
    checkFields(T, resName, u, ["name", "soft", "hard"], `ulimits.${i}.`);
    return {
      Name: str(T, resName, `ulimits.${i}.name`, u.name),
      Soft: num(T, resName, `ulimits.${i}.soft`, u.soft),
      Hard: num(T, resName, `ulimits.${i}.hard`, u.hard),
    };
  });
  if (ulimits.length) host.Ulimits = ulimits;
  if (a.capabilities !== undefined) {
    const c = a.capabilities as Record<string, unknown>;
    checkFields(T, resName, c, ["adds", "drops"], "capabilities.");
    host.CapAdd = strList(T, resName, "capabilities.adds", c.adds) ?? [];
    host.CapDrop = strList(T, resName, "capabilities.drops", c.drops) ?? [];
  }
  const lists: [string, string][] = [["dns", "Dns"], ["dnsOpts", "DnsOptions"], ["dnsSearches", "DnsSearch"], ["securityOpts", "SecurityOpt"], ["groupAdds", "GroupAdd"]];
  for (const [k, api] of lists) {
    const v = strList(T, resName, k, a[k]);
    if (v?.length) host[api] = v;
  }
  const memory = num(T, resName, "memory", a.memory);
  if (memory) host.Memory = memory * MB;
  const swap = num(T, resName, "memorySwap", a.memorySwap);
  if (swap) host.MemorySwap = swap > 0 ? swap * MB : swap;
  const memRes = num(T, resName, "memoryReservation", a.memoryReservation);
  if (memRes) host.MemoryReservation = memRes * MB;
  const shm = num(T, resName, "shmSize", a.shmSize);
  if (shm) host.ShmSize = shm * MB;
  const shares = num(T, resName, "cpuShares", a.cpuShares);
  if (shares) host.CpuShares = shares;
  const cpuSet = str(T, resName, "cpuSet", a.cpuSet);
  if (cpuSet) host.CpusetCpus = cpuSet;
  const cpus = str(T, resName, "cpus", a.cpus);
  if (cpus) {
    const f = Number(cpus);
    if (!Number.isFinite(f) || f <= 0) fail(T, resName, "cpus", `("${cpus}") must be a positive decimal like "1.5"`);
    host.NanoCpus = Math.round(f * 1e9);
  } else {
    const period = num(T, resName, "cpuPeriod", a.cpuPeriod);
    const quota = num(T, resName, "cpuQuota", a.cpuQuota);
    if (period) host.CpuPeriod = period;
    if (quota) host.CpuQuota = quota;
  }
  const modes: [string, string][] = [["networkMode", "NetworkMode"], ["usernsMode", "UsernsMode"], ["pidMode", "PidMode"], ["ipcMode", "IpcMode"], ["cgroupnsMode", "CgroupnsMode"], ["runtime", "Runtime"]];
  for (const [k, api] of modes) {
    const v = str(T, resName, k, a[k]);
    if (v) host[api] = v;
  }
  const sysctls = strMap(T, resName, "sysctls", a.sysctls);
  if (sysctls) host.Sysctls = sysctls;
  const storage = strMap(T, resName, "storageOpts", a.storageOpts);
  if (storage) host.StorageOpt = storage;

  // Networks. The provider creates the container, drops it from the default bridge, and
  // connects each networksAdvanced entry before start. We give the first entry at create (so
  // the container never sits on the default bridge, which a test engine may not even have) and
  // connect the rest before start: the started container sees exactly the same attachments.
  const nets = (objList(T, resName, "networksAdvanced", a.networksAdvanced) ?? []).map((n, i) => endpointOf(T, resName, n, i));
  const create: Record<string, unknown> = { name, ...config, HostConfig: host };
  let connect = nets;
  const mode = host.NetworkMode as string | undefined;
  if (nets.length && (mode === undefined || mode === "bridge" || mode === "default")) {
    const [first, ...rest] = nets;
    host.NetworkMode = first!.network;
    create.NetworkingConfig = { EndpointsConfig: { [first!.network]: first!.endpoint } };
    connect = rest;
  }

  const uploads = (objList(T, resName, "uploads", a.uploads) ?? []).map((u, i) => {
    const p = `uploads.${i}`;
    checkFields(T, resName, u, ["file", "content", "contentBase64", "executable", "permissions", "owner", "group"], `${p}.`);
    const file = str(T, resName, `${p}.file`, u.file);
    if (!file) fail(T, resName, `${p}.file`, "is required");
    const c = str(T, resName, `${p}.content`, u.content);
    const b64 = str(T, resName, `${p}.contentBase64`, u.contentBase64);
    if ((c === undefined || c === "") === (b64 === undefined || b64 === "")) fail(T, resName, p, "needs exactly one of content, contentBase64");
    const content = c ? Buffer.from(c, "utf8") : Buffer.from(b64!, "base64");
    const perms = str(T, resName, `${p}.permissions`, u.permissions);
    let mode = (bool(T, resName, `${p}.executable`, u.executable) ?? false) ? 0o744 : 0o644;
    if (perms !== undefined) {
      if (!/^[0-7]{3,4}$/.test(perms)) fail(T, resName, `${p}.permissions`, `("${perms}") must be an octal mode like "0400"`);
      mode = parseInt(perms, 8);
    }
    return { file, content, mode, uid: parseOwner(T, resName, `${p}.owner`, u.owner), gid: parseOwner(T, resName, `${p}.group`, u.group) };
  });

  const wait = bool(T, resName, "wait", a.wait) ?? false;
  if (wait && !config.Healthcheck) fail(T, resName, "wait", "needs a healthcheck (the provider errors without one)");
  return {
    name,
    create,
    connect,
    uploads,
    start: bool(T, resName, "start", a.start) ?? true,
    attach,
    logs: bool(T, resName, "logs", a.logs) ?? false,
    rm,
    mustRun: bool(T, resName, "mustRun", a.mustRun) ?? true,
    wait,
    waitTimeoutS: num(T, resName, "waitTimeout", a.waitTimeout) ?? 60,
    destroyGraceSeconds: num(T, resName, "destroyGraceSeconds", a.destroyGraceSeconds) ?? 0,
    removeVolumes: bool(T, resName, "removeVolumes", a.removeVolumes) ?? true,
  };
}

/** Splits the Engine API's multiplexed (non-tty) log stream into text. */
export function demuxDockerStream(buf: Buffer): string {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return Buffer.concat(out).toString("utf8");
}

async function containerLogs(c: Dockerode.Container, tail?: number): Promise<string> {
  const raw = await c.logs({ stdout: true, stderr: true, follow: false, ...(tail ? { tail } : {}) });
  return demuxDockerStream(raw);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type InspectInfo = Dockerode.ContainerInspectInfo;

/** The API version the provider's client negotiates with this engine (the server's, when older). */
async function engineApiVersion(ctx: DockerContext): Promise<string> {
  ctx.apiVersion ??= (await ctx.docker.version()).ApiVersion;
  return ctx.apiVersion;
}

export async function realizeContainer(ctx: DockerContext, resName: string, a: Record<string, unknown>): Promise<Realized> {
  const plan = planContainer(ctx.runId, resName, a);
  const { docker } = ctx;
  // kreuzwerker v4.5.0 resource_docker_container_funcs.go (create): any `volume_options` block on
  // a client below API 1.45 is refused, with or without a subpath (string compare of versions).
  const refusal = containerCreateChecks(a, await engineApiVersion(ctx));
  if (refusal) fail(CTR, resName, "mounts", `refused by the provider on engine API ${ctx.apiVersion}: ${refusal}`);
  // never pull: the image must already be on the engine
  try {
    await docker.getImage(plan.create.Image as string).inspect();
  } catch (e) {
    if (statusOf(e) === 404) fail(CTR, resName, "image", `("${String(plan.create.Image)}") is not present on the engine; the realizing mock never pulls`);
    throw e;
  }
  const c = await docker.createContainer(plan.create);
  ctx.log(`container ${plan.name} created (${c.id.slice(0, 12)})`);
  const destroy = async () => {
    if (plan.destroyGraceSeconds > 0) {
      await ignoreGone(c.stop({ t: plan.destroyGraceSeconds }));
    }
    await ignoreGone(c.remove({ force: true, v: plan.removeVolumes }));
    ctx.log(`container ${plan.name} removed`);
  };
  try {
    for (const n of plan.connect) {
      await docker.getNetwork(n.network).connect({ Container: c.id, EndpointConfig: n.endpoint });
    }
    for (const u of plan.uploads) {
      // As the provider does: one tar entry named by the full path, PUT at "/". The engine
      // checks the destination ("/") against a read-only rootfs, so uploads into a `readOnly`
      // container are refused even when the file would land on a volume — as in a real `up`.
      const tar = tarArchive([{ name: u.file.replace(/^\/+/, ""), content: u.content, mode: u.mode, uid: u.uid, gid: u.gid }]);
      try {
        await c.putArchive(tar, { path: "/" });
      } catch (e) {
        throw new Error(`realizing mock: ${CTR} "${resName}": upload of ${u.file} refused by the engine (as pulumi-docker's would be): ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const outputs: Record<string, unknown> = {};
    if (plan.start) {
      await c.start();
      if (plan.attach) {
        const res = (await c.wait()) as { StatusCode: number };
        outputs.exitCode = res.StatusCode;
        const logs = plan.logs || res.StatusCode !== 0 ? await containerLogs(c) : "";
        if (plan.logs) outputs.containerLogs = logs;
        // kreuzwerker v4.5.0 resource_docker_container_funcs.go (create, attach): ContainerWait
        // until not running, then Read — the exit code is never checked; Read records it as
        // `exit_code`. A failed one-shot container is a successful create; the program must
        // check `exitCode` itself (the components do).
        if (res.StatusCode !== 0) ctx.log(`one-shot container ${plan.name} exited ${res.StatusCode} (the provider does not fail the create); log tail:\n${logs.slice(-2000)}`);
        if (plan.rm) await ignoreGone(c.remove({ force: true, v: plan.removeVolumes }));
      } else {
        if (plan.wait) {
          const deadline = Date.now() + plan.waitTimeoutS * 1000;
          for (;;) {
            const s = (await c.inspect()).State as InspectInfo["State"] & { Health?: { Status: string } };
            if (s.Health?.Status === "healthy") break;
            if (!s.Running) {
              throw new Error(`realizing mock: ${CTR} "${resName}": exited (${s.ExitCode}) while waiting for healthy; log tail:\n${(await containerLogs(c, 40)).slice(-2000)}`);
            }
            if (Date.now() > deadline) {
              throw new Error(`realizing mock: ${CTR} "${resName}": not healthy within waitTimeout ${plan.waitTimeoutS}s (health ${s.Health?.Status}); log tail:\n${(await containerLogs(c, 40)).slice(-2000)}`);
            }
            await sleep(250);
          }
        }
        // kreuzwerker v4.5.0 create has no must_run check: a container that dies at once is a
        // successful create, and Read records `exit_code` and sets must_run false in the state
        // (so the next `up` plans an update that starts it). Only `wait` (a healthcheck) makes
        // the deploy fail on a container that does not come up.
        const s = (await c.inspect()).State;
        if (!s.Running) {
          outputs.exitCode = s.ExitCode;
          if (plan.mustRun) ctx.log(`container ${plan.name} is not running after create (exit ${s.ExitCode}); the provider does not fail the create`);
        }
      }
    }
    let info: InspectInfo | undefined;
    try {
      info = await c.inspect();
    } catch (e) {
      if (statusOf(e) !== 404) throw e; // removed after a one-shot run
    }
    if (info) {
      outputs.name = info.Name.replace(/^\//, "");
      outputs.hostname = info.Config.Hostname;
      outputs.bridge = (info.NetworkSettings as { Bridge?: string }).Bridge ?? "";
      outputs.networkDatas = Object.entries(info.NetworkSettings.Networks ?? {}).map(([networkName, n]) => ({
        networkName,
        ipAddress: n.IPAddress,
        ipPrefixLength: n.IPPrefixLen,
        gateway: n.Gateway,
        macAddress: n.MacAddress,
        globalIpv6Address: n.GlobalIPv6Address,
        globalIpv6PrefixLength: n.GlobalIPv6PrefixLen,
        ipv6Gateway: n.IPv6Gateway,
      }));
    } else {
      outputs.name = plan.name;
    }
    return { id: c.id, outputs, destroy };
  } catch (e) {
    // a half-made container is removed at once, as the provider does on a failed create
    await destroy().catch(() => undefined);
    const msg = e instanceof Error ? e.message : String(e);
    throw msg.startsWith("realizing mock:") ? e : new Error(`realizing mock: ${CTR} "${resName}": ${msg}`);
  }
}
