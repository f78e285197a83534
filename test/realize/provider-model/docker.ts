// pulumi-docker 5.2.0 as the engine sees it: a bridge over kreuzwerker/terraform-provider-docker.
// pulumi-docker 5.1.0 pins kreuzwerker v4.5.0 (upstream submodule 5074970c, "Prepare release
// v4.5.0"); the 5.2.0 SDK adds `owner`/`group` to container uploads, which v4.5.0's schema does not
// have, so 5.2.0 pins a later upstream whose source was not available to read here. Every rule
// below is read from v4.5.0; where 5.2.0 may differ (uploads' owner/group) the conservative
// assumption is stated and tested.
//
// Files cited (kreuzwerker/terraform-provider-docker @ v4.5.0, internal/provider/):
//   C  = resource_docker_container.go        (schema: ForceNew / Computed / Default / Set)
//   CF = resource_docker_container_funcs.go  (Create, Read, Update, Delete)
//   CS = resource_docker_container_structures.go (getDockerContainerMounts, flatten*)
//   H  = helpers.go                          (nanoInt64ToDecimalString)
//   N  = resource_docker_network.go / resource_docker_network_funcs.go
//   V  = resource_docker_volume.go
//   RI = resource_docker_remote_image.go / resource_docker_remote_image_funcs.go
import type Dockerode from "dockerode";
import { RUN_LABEL, PID_LABEL } from "../docker-resources";
import type { FieldRule, ResourceRules } from "./diff";

const C = "kreuzwerker v4.5.0 internal/provider/resource_docker_container.go";
const CF = "kreuzwerker v4.5.0 internal/provider/resource_docker_container_funcs.go";

// ------------------------------------------------------------------------------- normalizers
const MB = 1024 * 1024;

/** H nanoInt64ToDecimalString: what Read writes for cpus ("1.0" for 1, "0.5", "0.25", "10." for 10). */
export function nanoInt64ToDecimalString(nano: number): string {
  if (nano === 0) return "0";
  // big.Rat.FloatString(9): exact decimal with 9 places
  const whole = Math.trunc(nano / 1e9);
  const frac = String(nano % 1e9).padStart(9, "0");
  const s = `${whole}.${frac}`;
  // "If we have a round value … return 1.0": the upstream counts every "0" in the string
  if ((s.match(/0/g) ?? []).length === 9) return `${whole}.${frac.slice(0, 1)}`;
  return s.replace(/0+$/, "");
}

/** Go's time.Duration.String() of a number of nanoseconds ("1m0s", "500ms", "0s"). */
export function goDurationString(ns: number): string {
  if (ns === 0) return "0s";
  if (ns < 1e9) {
    if (ns % 1e6 === 0) return `${ns / 1e6}ms`;
    if (ns % 1e3 === 0) return `${ns / 1e3}µs`;
    return `${ns}ns`;
  }
  let rest = ns / 1e9;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  const secs = Number.isInteger(rest) ? String(rest) : String(Number(rest.toFixed(9)));
  if (h) return `${h}h${m}m${secs}s`;
  if (m) return `${m}m${secs}s`;
  return `${secs}s`;
}

const sortedStrings = (v: unknown) => (Array.isArray(v) ? [...(v as string[])].sort() : v);

/** A label set as the program declares it ({label, value} pairs). */
type Labels = { label: string; value: string }[];
const labelsWithoutTestMarks = (m: Record<string, string> | null | undefined): Labels =>
  // The realizing mock stamps its own run/pid labels on networks and volumes so a sweep can find
  // them; they are not the program's, and a real `up` would not have them.
  Object.entries(m ?? {}).filter(([k]) => k !== RUN_LABEL && k !== PID_LABEL).map(([label, value]) => ({ label, value }));

function healthcheckConfig(v: unknown): unknown {
  // C healthcheck: nested interval/timeout/start_period/start_interval Default "0s", retries Default 0
  const h = v as Record<string, unknown>;
  return [{ tests: h.tests ?? [], interval: h.interval ?? "0s", timeout: h.timeout ?? "0s", startPeriod: h.startPeriod ?? "0s", startInterval: h.startInterval ?? "0s", retries: h.retries ?? 0 }];
}

function mountsConfig(v: unknown): unknown {
  // C mounts: a Set of blocks; unset nested Optionals hash as their zero value (read_only false)
  return (v as Record<string, unknown>[]).map((m) => ({
    target: m.target, source: m.source ?? "", type: m.type, readOnly: m.readOnly ?? false,
    ...(m.bindOptions ? { bindOptions: [m.bindOptions] } : {}),
    ...(m.volumeOptions ? { volumeOptions: [{ noCopy: false, labels: [], ...(m.volumeOptions) }] } : {}),
    ...(m.tmpfsOptions ? { tmpfsOptions: [{ sizeBytes: 0, mode: 0, ...(m.tmpfsOptions) }] } : {}),
  }));
}

function capabilitiesConfig(v: unknown): unknown {
  const c = v as { adds?: string[]; drops?: string[] };
  return [{ adds: sortedStrings(c.adds ?? []), drops: sortedStrings(c.drops ?? []) }];
}

// ---------------------------------------------------------------------------- Container rules
/** C user / working_dir DiffSuppressFunc: `if newV == "" { newV = oldV }; return oldV == newV` */
const emptyMeansKeep = (prior: unknown, next: unknown): boolean => next === "" || next === undefined || prior === next;

const f = (forceNew: boolean, source: string, extra: Partial<FieldRule> = {}): FieldRule => ({ forceNew, source, ...extra });

export const CONTAINER_RULES: ResourceRules = {
  type: "docker:index/container:Container",
  fields: {
    name: f(true, `${C} name: Required, ForceNew`),
    image: f(true, `${C} image: Required, ForceNew; ${CF} Read sets container.Image when config starts with sha256:`),
    rm: f(false, `${C} rm: Default false, not ForceNew; ${CF} Read sets HostConfig.AutoRemove`, { default: false, normalize: Boolean }),
    readOnly: f(true, `${C} read_only: Default false, ForceNew; Read sets HostConfig.ReadonlyRootfs`, { default: false }),
    start: f(false, `${C} start: Default true, not ForceNew, not read`, { default: true }),
    wait: f(false, `${C} wait: Default false, not ForceNew, not read`, { default: false }),
    waitTimeout: f(false, `${C} wait_timeout: Default 60, not ForceNew, not read`, { default: 60 }),
    attach: f(false, `${C} attach: Default false, not ForceNew, not read`, { default: false }),
    logs: f(false, `${C} logs: Default false, not ForceNew, not read`, { default: false }),
    mustRun: f(false, `${C} must_run: Default true, not ForceNew; ${CF} Read sets it false when the container is not running`, { default: true }),
    hostname: f(true, `${C} hostname: ForceNew, Computed; Read sets Config.Hostname`, { computed: true }),
    domainname: f(true, `${C} domainname: ForceNew; Read sets Config.Domainname`),
    command: f(true, `${C} command: List, ForceNew, Computed; Read sets Config.Cmd`, { computed: true, kind: "list" }),
    entrypoints: f(true, `${C} entrypoint: List, ForceNew, Computed; Read sets Config.Entrypoint`, { computed: true, kind: "list" }),
    user: f(true, `${C} user: ForceNew; DiffSuppress treats a new "" as no change; Read sets Config.User`, { suppress: emptyMeansKeep }),
    dns: f(true, `${C} dns: Set, ForceNew; Read sets HostConfig.DNS`, { kind: "set" }),
    dnsOpts: f(true, `${C} dns_opts: Set, ForceNew`, { kind: "set" }),
    dnsSearches: f(true, `${C} dns_search: Set, ForceNew`, { kind: "set" }),
    publishAllPorts: f(true, `${C} publish_all_ports: ForceNew; Read sets it`),
    restart: f(false, `${C} restart: Default "no", updated in place (${CF} Update: ContainerUpdate RestartPolicy)`, { default: "no" }),
    maxRetryCount: f(false, `${C} max_retry_count: updated in place`),
    workingDir: f(true, `${C} working_dir: ForceNew; DiffSuppress treats a new "" as no change ("Docker's default"); Read sets Config.WorkingDir (the image's WORKDIR)`, { suppress: emptyMeansKeep }),
    removeVolumes: f(false, `${C} remove_volumes: Default true, not read`, { default: true }),
    capabilities: f(true, `${C} capabilities: Set MaxItems 1, ForceNew; Read sets {add: CapAdd, drop: CapDrop} when either is non-empty`, { kind: "list", normalize: capabilitiesConfig }),
    securityOpts: f(true, `${C} security_opts: Set, ForceNew, Computed; Read sets HostConfig.SecurityOpt`, { kind: "set", computed: true }),
    runtime: f(true, `${C} runtime: ForceNew, Computed`, { computed: true }),
    stopSignal: f(true, `${C} stop_signal: ForceNew, Computed`, { computed: true }),
    stopTimeout: f(true, `${C} stop_timeout: ForceNew, Computed`, { computed: true }),
    mounts: f(true, `${C} mounts: Set, ForceNew; ${"kreuzwerker v4.5.0 internal/provider/resource_docker_container_structures.go"} getDockerContainerMounts reads HostConfig.Mounts`, { kind: "set", normalize: mountsConfig }),
    volumes: f(true, `${C} volumes: Set, ForceNew`, { kind: "set" }),
    tmpfs: f(false, `${C} tmpfs: Map, Optional, NOT ForceNew; ${CF} Update has no tmpfs case: a change is an update that changes nothing on the engine`),
    ports: f(true, `${C} ports: List, ForceNew`, { kind: "list" }),
    hosts: f(true, `${C} host: Set, ForceNew`, { kind: "set" }),
    ulimits: f(true, `${C} ulimit: Set, ForceNew; Read sets it only when configured`, { kind: "set" }),
    envs: f(true, `${C} env: Set, ForceNew, Computed; ${CF} Read does not set env ("taken over from the Docker image")`, { kind: "set", computed: true }),
    labels: f(true, `${C} labels: Set, ForceNew, Computed; ${CF} Read does not set labels`, { kind: "set", computed: true }),
    privileged: f(true, `${C} privileged: ForceNew; Read sets HostConfig.Privileged`),
    destroyGraceSeconds: f(false, `${C} destroy_grace_seconds: not ForceNew, not read`),
    memory: f(false, `${C} memory: updated in place; Read sets HostConfig.Memory/1 MiB`),
    memoryReservation: f(false, `${C} memory_reservation: Default 0, updated in place`, { default: 0 }),
    memorySwap: f(false, `${C} memory_swap: updated in place; Read sets MemorySwap/1 MiB when > 0`),
    shmSize: f(true, `${C} shm_size: ForceNew, Computed; Read sets ShmSize/1 MiB`, { computed: true }),
    cpuShares: f(false, `${C} cpu_shares: updated in place`),
    cpuSet: f(false, `${C} cpu_set: updated in place`),
    cpus: f(true, `${C} cpus: ForceNew; ${CF} Read sets nanoInt64ToDecimalString(NanoCPUs) — "1.0" for 1`),
    cpuPeriod: f(false, `${C} cpu_period: not ForceNew; Update has no case for it`),
    cpuQuota: f(false, `${C} cpu_quota: not ForceNew; Update has no case for it`),
    logDriver: f(true, `${C} log_driver: ForceNew, Computed`, { computed: true }),
    logOpts: f(true, `${C} log_opts: Map, ForceNew; Read sets LogConfig.Config when configured`),
    networkMode: f(true, `${C} network_mode: ForceNew, Default "bridge"; Read sets HostConfig.NetworkMode`, { default: "bridge" }),
    networksAdvanced: f(true, `${C} networks_advanced: Set, ForceNew; ${CF} Read sets it only when empty (import)`, { kind: "set" }),
    pidMode: f(true, `${C} pid_mode: ForceNew`),
    usernsMode: f(true, `${C} userns_mode: ForceNew`),
    uploads: f(true, `${C} upload: Set, ForceNew; not read`, { kind: "set" }),
    healthcheck: f(false, `${C} healthcheck: List MaxItems 1, Optional, Computed, not ForceNew (nested fields neither): Update has no case for it`, { computed: true, kind: "list", normalize: healthcheckConfig }),
    sysctls: f(true, `${C} sysctls: Map, ForceNew`),
    ipcMode: f(true, `${C} ipc_mode: ForceNew, Computed`, { computed: true }),
    groupAdds: f(true, `${C} group_add: Set, ForceNew`, { kind: "set" }),
    init: f(false, `${C} init: Optional, Computed, not ForceNew; Update has no case for it`, { computed: true }),
    tty: f(true, `${C} tty: Default false, ForceNew`, { default: false }),
    stdinOpen: f(true, `${C} stdin_open: Default false, ForceNew`, { default: false }),
    storageOpts: f(true, `${C} storage_opts: Map, ForceNew`),
    cgroupnsMode: f(true, `${C} cgroupns_mode: ForceNew`),
  },
};

/** C: fields the provider updates through ContainerUpdate (CF resourceDockerContainerUpdate `attrs`). */
export const CONTAINER_UPDATE_FIELDS = ["restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap"] as const;

/**
 * CF resourceDockerContainerRead, on an inspect of the real container: the state the next diff
 * compares against. `config` is the create's inputs (fields Read does not set keep their config
 * value, with schema defaults applied).
 */
export function readContainer(inspect: Dockerode.ContainerInspectInfo, config: Record<string, unknown>): Record<string, unknown> {
  const hc = inspect.HostConfig as Dockerode.HostConfig & Record<string, unknown>;
  const cfg = inspect.Config as Dockerode.ContainerInspectInfo["Config"] & Record<string, unknown>;
  const running = inspect.State.Running;
  const s: Record<string, unknown> = {
    // not read: their state is the config, defaults applied (C Default)
    start: config.start ?? true,
    wait: config.wait ?? false,
    waitTimeout: config.waitTimeout ?? 60,
    attach: config.attach ?? false,
    logs: config.logs ?? false,
    removeVolumes: config.removeVolumes ?? true,
    destroyGraceSeconds: config.destroyGraceSeconds,
    envs: config.envs,
    labels: config.labels,
    uploads: config.uploads,
    networksAdvanced: config.networksAdvanced,
    volumes: config.volumes,
    ports: config.ports,
    cpuPeriod: config.cpuPeriod,
    cpuQuota: config.cpuQuota,
    mustRun: config.mustRun ?? true,
  };
  if (!running) {
    s.exitCode = inspect.State.ExitCode;
    if (s.mustRun === true) s.mustRun = false;
  }
  s.name = inspect.Name.replace(/^\/+/, "");
  s.rm = hc.AutoRemove ?? false;
  s.readOnly = hc.ReadonlyRootfs ?? false;
  s.image = typeof config.image === "string" && config.image.startsWith("sha256:") ? inspect.Image : cfg.Image;
  s.hostname = cfg.Hostname;
  s.domainname = cfg.Domainname;
  s.command = cfg.Cmd ?? undefined;
  s.entrypoints = cfg.Entrypoint ?? undefined;
  s.user = cfg.User;
  s.dns = hc.Dns ?? undefined;
  s.dnsOpts = hc.DnsOptions ?? undefined;
  s.securityOpts = hc.SecurityOpt ?? undefined;
  s.dnsSearches = hc.DnsSearch ?? undefined;
  s.publishAllPorts = hc.PublishAllPorts ?? false;
  s.restart = hc.RestartPolicy?.Name ?? "";
  s.maxRetryCount = hc.RestartPolicy?.MaximumRetryCount ?? 0;
  s.init = hc.Init ?? false;
  s.workingDir = cfg.WorkingDir;
  const capAdd = (hc.CapAdd ?? []) as string[];
  const capDrop = (hc.CapDrop ?? []) as string[];
  if (capAdd.length || capDrop.length) s.capabilities = [{ adds: sortedStrings(capAdd), drops: sortedStrings(capDrop) }];
  s.runtime = hc.Runtime;
  s.mounts = ((hc.Mounts ?? []) as unknown as Record<string, unknown>[]).map((m) => {
    const vo = m.VolumeOptions as { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } } | undefined;
    const bo = m.BindOptions as { Propagation?: string } | undefined;
    const to = m.TmpfsOptions as { SizeBytes?: number; Mode?: number } | undefined;
    return {
      target: m.Target, source: m.Source ?? "", type: m.Type, readOnly: m.ReadOnly ?? false,
      ...(bo ? { bindOptions: [{ propagation: bo.Propagation }] } : {}),
      ...(vo ? { volumeOptions: [{ noCopy: vo.NoCopy ?? false, labels: Object.entries(vo.Labels ?? {}).map(([label, value]) => ({ label, value })), ...(vo.DriverConfig ? { driverName: vo.DriverConfig.Name, driverOptions: vo.DriverConfig.Options } : {}) }] } : {}),
      ...(to ? { tmpfsOptions: [{ sizeBytes: to.SizeBytes ?? 0, mode: to.Mode ?? 0 }] } : {}),
    };
  });
  s.tmpfs = hc.Tmpfs ?? undefined;
  s.hosts = ((hc.ExtraHosts ?? []) as string[]).map((h) => {
    const [host, ip] = h.split(":");
    return { host, ip };
  });
  if (config.ulimits !== undefined) s.ulimits = ((hc.Ulimits ?? []) as { Name: string; Soft: number; Hard: number }[]).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard }));
  s.privileged = hc.Privileged ?? false;
  s.memory = Math.trunc((hc.Memory ?? 0) / MB);
  const res = hc.MemoryReservation ?? 0;
  s.memoryReservation = res > 0 ? Math.trunc(res / MB) : res;
  const swap = hc.MemorySwap ?? 0;
  s.memorySwap = swap > 0 ? Math.trunc(swap / MB) : swap;
  s.shmSize = Math.trunc((hc.ShmSize ?? 0) / MB);
  const nano = (hc.NanoCpus ?? hc.NanoCPUs ?? 0) as number;
  if (nano > 0) s.cpus = nanoInt64ToDecimalString(nano);
  s.cpuShares = hc.CpuShares ?? 0;
  s.cpuSet = hc.CpusetCpus ?? "";
  s.logDriver = hc.LogConfig?.Type;
  if (config.logOpts !== undefined) s.logOpts = hc.LogConfig?.Config;
  s.storageOpts = hc.StorageOpt ?? undefined;
  // The provider creates with network_mode's default "bridge" and then connects the
  // networks_advanced entries; the realizing mock gives the first entry at create instead (a test
  // engine may have no default bridge), so its NetworkMode names that network. Read as the
  // provider's container would be read: "bridge".
  const first = ((config.networksAdvanced ?? []) as { name?: string }[])[0]?.name;
  s.networkMode = config.networkMode === undefined && first !== undefined && hc.NetworkMode === first ? "bridge" : hc.NetworkMode;
  if (config.pidMode !== undefined) s.pidMode = hc.PidMode;
  s.usernsMode = hc.UsernsMode;
  const h = cfg.Healthcheck;
  if (h) {
    s.healthcheck = [{
      tests: h.Test ?? [], interval: goDurationString(h.Interval ?? 0), timeout: goDurationString(h.Timeout ?? 0),
      startPeriod: goDurationString(h.StartPeriod ?? 0), startInterval: goDurationString(h.StartInterval ?? 0), retries: h.Retries ?? 0,
    }];
  }
  s.sysctls = hc.Sysctls ?? undefined;
  s.ipcMode = hc.IpcMode;
  s.groupAdds = hc.GroupAdd ?? undefined;
  s.tty = cfg.Tty ?? false;
  s.stdinOpen = cfg.OpenStdin ?? false;
  s.stopSignal = cfg.StopSignal;
  s.stopTimeout = cfg.StopTimeout ?? undefined;
  s.cgroupnsMode = config.cgroupnsMode;
  return s;
}

/**
 * CF resourceDockerContainerUpdate: a must_run false → true change starts the container; any
 * change among CONTAINER_UPDATE_FIELDS sends one ContainerUpdate with restart policy and
 * resources from the new config. Nothing else reaches the engine (tmpfs, healthcheck, init,
 * cpu_period/quota changes only change the state).
 */
export async function updateContainer(docker: Dockerode, id: string, prior: Record<string, unknown>, next: Record<string, unknown>, changed: readonly string[]): Promise<void> {
  const c = docker.getContainer(id);
  if (changed.includes("mustRun") && prior.mustRun === false && (next.mustRun ?? true) === true && (next.start ?? true) === true) {
    await c.start();
  }
  if (!CONTAINER_UPDATE_FIELDS.some((k) => changed.includes(k))) return;
  const memory = Number(next.memory ?? 0);
  const swap = next.memorySwap === undefined ? undefined : Number(next.memorySwap);
  await c.update({
    RestartPolicy: { Name: typeof next.restart === "string" ? next.restart : "no", MaximumRetryCount: Number(next.maxRetryCount ?? 0) },
    CpuShares: Number(next.cpuShares ?? 0),
    Memory: memory * MB,
    MemoryReservation: Number(next.memoryReservation ?? 0) * MB,
    CpusetCpus: typeof next.cpuSet === "string" ? next.cpuSet : "",
    ...(swap !== undefined && swap !== 0 ? { MemorySwap: swap > 0 ? swap * MB : swap } : {}),
  });
}

// ------------------------------------------------------------------------------ Network rules
const N = "kreuzwerker v4.5.0 internal/provider/resource_docker_network.go";
export const NETWORK_RULES: ResourceRules = {
  type: "docker:index/network:Network",
  fields: {
    name: f(true, `${N} name: ForceNew`),
    labels: f(true, `${N} labels: Set, ForceNew; _funcs.go Read sets mapToLabelSet(Labels)`, { kind: "set" }),
    driver: f(true, `${N} driver: ForceNew, Computed`, { computed: true }),
    options: f(true, `${N} options: Map, ForceNew, Computed; Read sets Options`, { computed: true }),
    internal: f(true, `${N} internal: ForceNew, Computed`, { computed: true }),
    attachable: f(true, `${N} attachable: ForceNew`),
    ingress: f(true, `${N} ingress: ForceNew`),
    ipv6: f(true, `${N} ipv6: ForceNew`),
    ipamDriver: f(true, `${N} ipam_driver: Default "default", ForceNew`, { computed: true }),
    ipamOptions: f(true, `${N} ipam_options: Map, ForceNew`),
    // ipam_config is Optional+Computed, but its elements are compared whole: an element without a
    // gateway hashes differently from the engine's element with the gateway it assigned.
    ipamConfigs: f(true, `${N} ipam_config: Set, Optional, Computed, ForceNew; nested subnet/ip_range/gateway/aux_address Optional (not Computed); Read sets flattenIpamConfigSpec(IPAM.Config)`, { kind: "set", computed: true, normalize: (v) => (v as Record<string, unknown>[]).map((c) => ({ subnet: c.subnet ?? "", ipRange: c.ipRange ?? "", gateway: c.gateway ?? "", auxAddress: c.auxAddress ?? {} })) }),
  },
};

export function readNetwork(info: { Name: string; Labels?: Record<string, string> | null; Driver: string; Internal: boolean; Attachable: boolean; Ingress: boolean; EnableIPv6: boolean; IPAM: { Driver: string; Options?: Record<string, string> | null; Config?: { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[] | null }; Options?: Record<string, string> | null }): Record<string, unknown> {
  return {
    name: info.Name,
    labels: labelsWithoutTestMarks(info.Labels),
    driver: info.Driver,
    internal: info.Internal,
    attachable: info.Attachable,
    ingress: info.Ingress,
    ipv6: info.EnableIPv6,
    ipamDriver: info.IPAM.Driver,
    ipamOptions: info.IPAM.Options ?? undefined,
    options: info.Options ?? undefined,
    ipamConfigs: (info.IPAM.Config ?? []).map((c) => ({ subnet: c.Subnet ?? "", ipRange: c.IPRange ?? "", gateway: c.Gateway ?? "", auxAddress: c.AuxiliaryAddresses ?? {} })),
  };
}

// ------------------------------------------------------------------------------- Volume rules
const V = "kreuzwerker v4.5.0 internal/provider/resource_docker_volume.go";
export const VOLUME_RULES: ResourceRules = {
  type: "docker:index/volume:Volume",
  fields: {
    name: f(true, `${V} name: ForceNew, Computed`, { computed: true }),
    labels: f(true, `${V} labels: Set, ForceNew; Read sets mapToLabelSet(Labels)`, { kind: "set" }),
    driver: f(true, `${V} driver: ForceNew, Computed`, { computed: true }),
    driverOpts: f(true, `${V} driver_opts: Map, ForceNew; Read sets volume.Options`),
  },
};

export function readVolume(info: { Name: string; Labels?: Record<string, string> | null; Driver: string; Options?: Record<string, string> | null }): Record<string, unknown> {
  return { name: info.Name, labels: labelsWithoutTestMarks(info.Labels), driver: info.Driver, driverOpts: info.Options ?? undefined };
}

// ------------------------------------------------------------------------- RemoteImage rules
const RI = "kreuzwerker v4.5.0 internal/provider/resource_docker_remote_image.go";
export const REMOTE_IMAGE_RULES: ResourceRules = {
  type: "docker:index/remoteImage:RemoteImage",
  fields: {
    name: f(true, `${RI} name: Required, ForceNew`),
    keepLocally: f(false, `${RI} keep_locally: not ForceNew (matters at delete)`),
    forceRemove: f(false, `${RI} force_remove: not ForceNew (matters at delete)`),
    pullTriggers: f(true, `${RI} pull_triggers: Set, ForceNew`, { kind: "set" }),
    triggers: f(true, `${RI} triggers: Map, ForceNew`),
  },
};

/** CF create: "Setting VolumeOptions.Subpath requires docker version 1.45 or higher" for any volume_options on an older API. */
export function containerCreateChecks(inputs: Record<string, unknown>, apiVersion: string): string | undefined {
  const mounts = (inputs.mounts ?? []) as Record<string, unknown>[];
  // CF compares `client.ClientVersion() >= "1.45"` as strings, on the negotiated version
  if (mounts.some((m) => m.volumeOptions !== undefined) && !(apiVersion >= "1.45")) {
    return "Setting VolumeOptions.Subpath requires docker version 1.45 or higher";
  }
  return undefined;
}
