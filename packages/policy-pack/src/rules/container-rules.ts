/**
 * Rules on each Docker container: the hardening the tenant boundary rests on. A container
 * declared by hand next to the components gets exactly the same checks as theirs.
 * These rules read their fields directly: a field unknown during preview makes the engine
 * report the rule as not runnable (advisory) for that resource, and `pulumi up` checks it
 * again once the value is known — an unknown never passes as compliant.
 */
import { TYPES, asArray, declaredBy, isOneShot, labels } from "../resource-facts.js";
import type { Finding, ResourceRule } from "./rule.js";

const CONTAINER = [TYPES.container] as const;

function securityOpts(props: Record<string, unknown>): string[] {
  return asArray(props.securityOpts).filter((o): o is string => typeof o === "string");
}

export const noPrivileged: ResourceRule = {
  kind: "resource",
  name: "octw-no-privileged",
  description: "No container runs privileged: a privileged container owns the host and every tenant on it.",
  types: CONTAINER,
  check(props) {
    return props.privileged === true ? [{ field: "privileged", problem: "is true: the container gets every capability and every host device", fix: "remove privileged (or set it to false); add only the capabilities it needs from the allowlist" }] : [];
  },
};

function capName(c: string): string {
  return c.toUpperCase().replace(/^CAP_/, "");
}

export const capabilitiesDropped: ResourceRule = {
  kind: "resource",
  name: "octw-capabilities-dropped",
  description: "Every container drops ALL capabilities and adds back only allowlisted ones.",
  types: CONTAINER,
  config: {
    allowedAdds: {
      type: "array",
      items: { type: "string" },
      // The components' one-shot init containers chown the state volume to the tenant's UID.
      default: ["CHOWN", "FOWNER"],
      description: "capabilities a container may add back (without CAP_)",
    },
  },
  check(props, ctx) {
    const c = (props.capabilities ?? {}) as { drops?: unknown; adds?: unknown };
    const drops = asArray(c.drops).filter((d): d is string => typeof d === "string").map(capName);
    const adds = asArray(c.adds).filter((d): d is string => typeof d === "string").map(capName);
    const allowed = new Set(asArray(ctx.config.allowedAdds ?? capabilitiesDropped.config!.allowedAdds!.default).map((a) => capName(String(a))));
    const out: Finding[] = [];
    if (!drops.includes("ALL")) out.push({ field: "capabilities.drops", problem: "does not contain ALL: the container keeps Docker's default capabilities", fix: 'set capabilities.drops to ["ALL"] and add back only what it needs' });
    adds.forEach((a, i) => {
      if (!allowed.has(a)) out.push({ field: `capabilities.adds[${i}]`, problem: `adds ${a}, which is not in the allowlist (${[...allowed].join(", ") || "empty"})`, fix: `remove ${a}, or add it to this rule's allowedAdds config with the reason in review` });
    });
    return out;
  },
};

export const noNewPrivileges: ResourceRule = {
  kind: "resource",
  name: "octw-no-new-privileges",
  description: "Every container runs with no-new-privileges: setuid binaries cannot raise privileges.",
  types: CONTAINER,
  check(props) {
    const opts = securityOpts(props);
    const set = opts.some((o) => /^no-new-privileges([:=]true)?$/.test(o));
    return set ? [] : [{ field: "securityOpts", problem: "lacks no-new-privileges", fix: 'add "no-new-privileges:true" to securityOpts' }];
  },
};

export const seccompProfile: ResourceRule = {
  kind: "resource",
  name: "octw-seccomp-profile",
  description: "Every container has an explicit seccomp profile, never unconfined.",
  types: CONTAINER,
  check(props) {
    const opts = securityOpts(props);
    const seccomp = opts.map((o, i) => ({ o, i })).filter(({ o }) => /^seccomp[:=]/.test(o));
    const unconfined = seccomp.find(({ o }) => /^seccomp[:=]unconfined$/.test(o));
    if (unconfined) return [{ field: `securityOpts[${unconfined.i}]`, problem: "is seccomp=unconfined: every system call is allowed", fix: "use a seccomp profile (@octw/pulumi's seccompProfile planner builds the one the components use)" }];
    if (seccomp.length === 0) return [{ field: "securityOpts", problem: "sets no seccomp profile", fix: "add seccomp=<profile JSON> to securityOpts (@octw/pulumi's seccompProfile planner builds one)" }];
    return [];
  },
};

export const readOnlyRoot: ResourceRule = {
  kind: "resource",
  name: "octw-read-only-root",
  description: "Every long-lived container has a read-only root filesystem (one-shot init containers excepted).",
  types: CONTAINER,
  check(props) {
    if (isOneShot(props)) return [];
    if (props.readOnly === true) return [];
    return [{ field: "readOnly", problem: "is not true for a long-lived container", fix: "set readOnly: true and give writable paths a tmpfs or a volume" }];
  },
};

// The Engine API socket is root on the host. Two components need it, and each filters what
// it does with it: the waker (starts and stops only this platform's tenant containers, by label)
// and the egress-audit shipper (reads only the egress proxies' logs, by label).
const ENGINE_SOCKET_HOLDERS: Readonly<Record<string, string>> = {
  "octw:index:Waker": "the waker starts and stops only this platform's labelled tenant containers through it",
  "octw:index:EgressAuditShipper": "the shipper reads only the egress proxies' logs, found by label, through it",
};

export const noHostMounts: ResourceRule = {
  kind: "resource",
  name: "octw-no-host-mounts",
  description: "No container mounts a host path, a host device or the Engine API socket, except the components that must and say why.",
  types: CONTAINER,
  check(props, ctx) {
    const holder = Object.keys(ENGINE_SOCKET_HOLDERS).find((t) => declaredBy(ctx.urn, t));
    const out: Finding[] = [];
    asArray(props.mounts).forEach((m, i) => {
      const mount = m as { type?: unknown; source?: unknown; target?: unknown };
      if (mount.type !== "bind") return;
      const source = mount.source;
      const isSocket = typeof source === "string" && /(^|\/)docker\.sock$/.test(source);
      if (isSocket && holder) return; // ENGINE_SOCKET_HOLDERS says why
      out.push({
        field: `mounts[${i}]`,
        problem: isSocket ? "bind-mounts the Engine API socket, which is root on the host" : "bind-mounts a host path",
        fix: isSocket ? "remove it; only the waker and the egress-audit shipper components hold the socket" : "use a named volume (type volume) or a tmpfs instead",
      });
    });
    asArray(props.volumes).forEach((v, i) => {
      const hostPath = (v as { hostPath?: unknown }).hostPath;
      if (typeof hostPath === "string" && hostPath !== "") out.push({ field: `volumes[${i}].hostPath`, problem: "mounts a host path", fix: "use a named volume (volumeName) instead" });
    });
    asArray(props.devices).forEach((_d, i) => {
      out.push({ field: `devices[${i}]`, problem: "passes a host device into the container", fix: "remove the device" });
    });
    return out;
  },
};

export const noHostNamespaces: ResourceRule = {
  kind: "resource",
  name: "octw-no-host-namespaces",
  description: "No container shares the host's (or another container's) network, PID or IPC namespace.",
  types: CONTAINER,
  check(props) {
    const out: Finding[] = [];
    for (const field of ["networkMode", "pidMode", "ipcMode"] as const) {
      const v = props[field];
      if (typeof v !== "string") continue;
      if (v === "host") out.push({ field, problem: `is host: the container shares the host's ${field.replace("Mode", "")} namespace`, fix: `remove ${field} (or use "none"/"private")` });
      else if (v.startsWith("container:")) out.push({ field, problem: `joins another container's ${field.replace("Mode", "")} namespace`, fix: `remove ${field}; give the container its own namespace` });
    }
    return out;
  },
};

export const noPublishedPorts: ResourceRule = {
  kind: "resource",
  name: "octw-no-published-ports",
  description: "No container publishes a port on the host except the edge, the platform's only entry point.",
  types: CONTAINER,
  check(props, ctx) {
    const ports = asArray(props.ports);
    if (ports.length === 0) return [];
    // The edge terminates TLS and verifies every request's JWT before anything reaches a tenant.
    if (declaredBy(ctx.urn, "octw:index:Edge") && labels(props)["octw.component"] === "edge") return [];
    return ports.map((_p, i) => ({ field: `ports[${i}]`, problem: "publishes a port on the host", fix: "remove it; reach tenants through the edge (octw:index:Edge), which verifies every request" }));
  },
};

export const CONTAINER_RULES = [noPrivileged, capabilitiesDropped, noNewPrivileges, seccompProfile, readOnlyRoot, noHostMounts, noHostNamespaces, noPublishedPorts];
