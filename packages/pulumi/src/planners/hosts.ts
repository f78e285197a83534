/**
 * The platform's Docker hosts: their schema, and the pure check of each host's engine endpoint.
 * A host is one Docker engine; every Docker resource of the tenants placed on it (and of its own
 * shared parts: networks, edge, router, waker) is declared with that host's `docker.Provider`.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { capacitySchema, type CapacityConfig } from "./suspend-policy.js";

/** The host of a platform that lists no `hosts`: the engine the program runs next to. */
export const DEFAULT_HOST_NAME = "local";

const secretInput = z.custom<pulumi.Input<string>>((v) => typeof v === "string" || (typeof v === "object" && v !== null), "must be a string or a pulumi Output<string>");

export const hostNameSchema = z
  .string()
  .regex(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/, "must be a lowercase DNS label: a-z first, then a-z, 0-9 or inner hyphens, at most 16 characters");

// Declared once: the types below are this schema's z.input, and each field's documentation is its
// metadata, read by the component schema generator (provider/generate-schema.ts).
const hostTlsSchema = z
  .strictObject({
    ca: secretInput.meta({ description: "PEM of the CA that signed the engine's server certificate (the engine is verified against it)." }),
    cert: secretInput.meta({ description: "PEM of the client certificate the engine's `--tlsverify` accepts." }),
    key: secretInput.meta({ description: "PEM of the client key: a Pulumi secret (it is root on that host)." }),
  })
  .meta({ id: "HostTlsConfig" });

export const hostSchema = z
  .strictObject({
    name: hostNameSchema.meta({ description: "Lowercase DNS label, unique in the platform: names the host's resources and `tenants[].host`." }),
    endpoint: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          "The host's Docker engine: `unix:///path/docker.sock`, `tcp://address:port` (with `tls`; a\nplaintext engine API is refused), or `ssh://user@host[:port]` (the ssh client's keys and\nknown_hosts; pulumi-docker runs `docker system dial-stdio` there). At most one host leaves it out;\nthat host keeps the resource names and provider of a single-host platform, so adding `hosts` to an\nexisting stack changes nothing on it.",
        defaultText: "the engine the Pulumi program runs next to (pulumi-docker's default provider: `DOCKER_HOST`, else unix:///var/run/docker.sock)",
      }),
    tls: hostTlsSchema.optional().meta({ description: "Client certificate, key and CA for a `tcp://` endpoint (PEM; pass them as Pulumi secrets)." }),
    sshOpts: z.array(z.string().min(1)).optional().meta({ description: "Extra options for the ssh client of an `ssh://` endpoint (pulumi-docker's `sshOpts`).", defaultText: "[]" }),
    publicAddress: z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, "must be a host name or IPv4 address")
      .optional()
      .meta({
        description: "Where the operator's DNS or load balancer reaches this host's edge (a host name or address);\nexported per tenant (`tenantAddresses`) for the tenants placed here.",
        defaultText: "the endpoint's address for tcp:// and ssh://, else the edge's `hostIp`",
      }),
    capacity: capacitySchema.optional().meta({
      description: "The host's memory budget (as the platform's `capacity`): a placement whose resident tenants\ndo not fit is refused at preview, naming the numbers.",
      defaultText: "the platform's `capacity` (not checked without one)",
    }),
    dockerSocketGid: z
      .number()
      .int()
      .min(1, "must be the engine socket's group (not root)")
      .max(2 ** 31 - 2)
      .optional()
      .meta({
        description:
          "The group of this host's engine socket, for the services on it that hold the socket (waker,\negress-audit shipper): machines differ (the `docker` group is made per machine).",
        defaultText: "`waker.dockerSocketGid` / `egressAudit.dockerSocketGid`",
      }),
    dockerSocketPath: z
      .string()
      .startsWith("/", "must be an absolute path")
      .optional()
      .meta({ description: "The path of this host's engine socket, for the same services.", defaultText: "`waker.dockerSocketPath` / `egressAudit.dockerSocketPath`, else /var/run/docker.sock" }),
  })
  .meta({ id: "HostConfig" });

export type HostTlsConfig = z.input<typeof hostTlsSchema>;
export type HostConfig = z.input<typeof hostSchema>;
export type ParsedHostConfig = z.output<typeof hostSchema>;

/** How the platform reaches one host's engine. */
export type EngineEndpoint =
  /** The program's own engine (pulumi-docker's default provider and DOCKER_HOST). */
  | { readonly kind: "default" }
  | { readonly kind: "unix"; readonly url: string; readonly socketPath: string }
  | { readonly kind: "tcp"; readonly url: string; readonly address: string; readonly port: number }
  | { readonly kind: "ssh"; readonly url: string; readonly user: string; readonly address: string; readonly port: number };

/**
 * Parses and checks an endpoint. Problems are worded without the value: an endpoint may carry a
 * credential (a password in an ssh URL is refused for exactly that reason).
 */
export function parseEndpoint(endpoint: string | undefined, hasTls: boolean): { endpoint?: EngineEndpoint; problem?: string } {
  if (endpoint === undefined) return { endpoint: { kind: "default" } };
  if (endpoint.startsWith("unix://")) {
    const socketPath = endpoint.slice("unix://".length);
    if (!socketPath.startsWith("/") || /[\s?#]/.test(socketPath)) return { problem: "must be unix:// followed by an absolute socket path" };
    if (hasTls) return { problem: "is a unix socket: tls applies to tcp:// endpoints only" };
    return { endpoint: { kind: "unix", url: endpoint, socketPath } };
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { problem: "must be unix:///path, tcp://address:port or ssh://user@host[:port]" };
  }
  if (url.password !== "") return { problem: "must not carry a password: use the ssh client's keys (sshOpts -i) for ssh://, tls for tcp://" };
  if (url.pathname !== "" && url.pathname !== "/") return { problem: "must not have a path" };
  if (url.search !== "" || url.hash !== "") return { problem: "must not have a query or fragment" };
  const address = url.hostname;
  if (url.protocol === "tcp:") {
    if (url.username !== "") return { problem: "must not carry a user name: the engine authenticates the tls client certificate" };
    if (url.port === "") return { problem: "must name the port, e.g. tcp://10.0.0.5:2376" };
    if (!hasTls) return { problem: "is tcp:// without tls: a plaintext engine API is root on that host for anyone on the path; give hosts[].tls (ca, cert, key)" };
    return { endpoint: { kind: "tcp", url: `tcp://${url.host}`, address, port: Number(url.port) } };
  }
  if (url.protocol === "ssh:") {
    if (url.username === "") return { problem: "must name the ssh user: ssh://user@host[:port]" };
    if (hasTls) return { problem: "is ssh://: tls applies to tcp:// endpoints only (ssh authenticates both ends)" };
    return { endpoint: { kind: "ssh", url: `ssh://${url.username}@${url.host}`, user: decodeURIComponent(url.username), address, port: url.port === "" ? 22 : Number(url.port) } };
  }
  return { problem: "must be unix:///path, tcp://address:port or ssh://user@host[:port]" };
}

/** One host as planned: its engine, its budget and the Pulumi name prefix of its shared parts. */
export interface HostPlan {
  readonly name: string;
  readonly endpoint: EngineEndpoint;
  readonly tls?: HostTlsConfig;
  readonly sshOpts: readonly string[];
  readonly publicAddress?: string;
  readonly capacity?: CapacityConfig;
  /** This host's engine socket, when it differs from the platform's settings for the socket holders. */
  readonly dockerSocket?: { readonly gid?: number; readonly path?: string };
  /**
   * Appended to the platform's name for this host's shared parts (`<platform>-egress` for the
   * default host, whose names must not change; `<platform>.<host>-egress` for every other — a
   * tenant id has no dot, so no host's names can meet a tenant's).
   */
  readonly resourceInfix: string;
  /** Docker label marking the host on its tenants' resources ("" for the default host: no label, no change). */
  readonly label?: string;
}

/**
 * Checks the `hosts` list (absent: one default host) and plans each host; the platform's
 * `capacity` is the budget of every host without its own. Problems name `hosts[i].field`.
 */
export function planHosts(hosts: readonly ParsedHostConfig[] | undefined, platformCapacity: CapacityConfig | undefined, problems: { path: string; message: string }[]): HostPlan[] {
  if (hosts === undefined) {
    return [{ name: DEFAULT_HOST_NAME, endpoint: { kind: "default" }, sshOpts: [], ...(platformCapacity ? { capacity: platformCapacity } : {}), resourceInfix: "" }];
  }
  const byName = new Map<string, number>();
  const byUrl = new Map<string, number>();
  let defaultHost: number | undefined;
  const out: HostPlan[] = [];
  hosts.forEach((h, i) => {
    const at = `hosts[${i}]`;
    const prior = byName.get(h.name);
    if (prior !== undefined) problems.push({ path: `${at}.name`, message: `is already used by hosts[${prior}]; host names are unique` });
    byName.set(h.name, i);
    const parsed = parseEndpoint(h.endpoint, h.tls !== undefined);
    if (parsed.problem) {
      problems.push({ path: `${at}.endpoint`, message: parsed.problem });
      return;
    }
    const e = parsed.endpoint!;
    if (e.kind === "default") {
      if (defaultHost !== undefined) problems.push({ path: `${at}.endpoint`, message: `is required: hosts[${defaultHost}] already is the program's own engine (the one host without an endpoint)` });
      defaultHost = i;
    } else {
      const same = byUrl.get(e.url);
      if (same !== undefined) problems.push({ path: `${at}.endpoint`, message: `is the engine of hosts[${same}] too; each host is its own engine` });
      byUrl.set(e.url, i);
    }
    if (h.sshOpts !== undefined && e.kind !== "ssh") problems.push({ path: `${at}.sshOpts`, message: "applies to ssh:// endpoints only" });
    out.push({
      name: h.name,
      endpoint: e,
      ...(h.tls ? { tls: h.tls } : {}),
      sshOpts: h.sshOpts ?? [],
      ...(h.publicAddress ? { publicAddress: h.publicAddress } : {}),
      // The platform's capacity is the budget of every host that states none.
      ...((h.capacity ?? platformCapacity) ? { capacity: h.capacity ?? platformCapacity } : {}),
      ...(h.dockerSocketGid !== undefined || h.dockerSocketPath !== undefined
        ? { dockerSocket: { ...(h.dockerSocketGid !== undefined ? { gid: h.dockerSocketGid } : {}), ...(h.dockerSocketPath !== undefined ? { path: h.dockerSocketPath } : {}) } }
        : {}),
      resourceInfix: e.kind === "default" ? "" : `.${h.name}`,
      ...(e.kind === "default" ? {} : { label: h.name }),
    });
  });
  return out;
}
