/**
 * Rules that need the whole stack: where a container's environment comes from, and which
 * principal owns each UID.
 */
import { GENERATED_SECRET_TYPES, TYPES, known, labels } from "../resource-facts.js";
import type { StackFinding, StackRule } from "./rule.js";

export const noGeneratedSecretInEnv: StackRule = {
  kind: "stack",
  name: "octw-no-generated-secret-in-env",
  description: "No generated secret (random password/bytes/string, private key) reaches a container's environment, which `docker inspect` and every process in it can read.",
  check(resources) {
    const out: StackFinding[] = [];
    for (const r of resources) {
      if (r.type !== TYPES.container) continue;
      const sources = (r.propertyDependencies.envs ?? []).filter((d) => GENERATED_SECRET_TYPES.has(d.type));
      for (const s of sources) {
        out.push({ resource: r, field: "envs", problem: `is computed from the generated secret ${s.name} (${s.type.split(":").pop()})`, fix: "deliver it as a 0400 file through uploads (as TenantGateway's state-init does) and point the program at the file" });
      }
    }
    return out;
  },
};

function uidOf(user: unknown): number | undefined {
  if (typeof user !== "string") return undefined;
  const m = /^(\d+)(?::\d+)?$/.exec(user);
  return m ? Number(m[1]) : undefined;
}

export const distinctTenantUids: StackRule = {
  kind: "stack",
  name: "octw-distinct-tenant-uids",
  description: "No two principals (tenants' gateways and proxies, shared services, hand-written containers) run under the same UID; root only in one-shot init containers.",
  check(resources) {
    const owners = new Map<number, { principal: string; name: string }>();
    const out: StackFinding[] = [];
    for (const r of resources) {
      if (r.type !== TYPES.container) continue;
      const uid = uidOf(known((): unknown => r.props.user));
      // Root is the one-shot init containers' (no network, CHOWN/FOWNER only): a separate concern.
      if (uid === undefined || uid === 0) continue;
      const l = labels(r.props);
      const dockerName = known((): unknown => r.props.name);
      const principal = l["octw.tenant"] ? `tenant ${l["octw.tenant"]} ${l["octw.component"] ?? ""}`.trim() : `${l["octw.component"] ?? (typeof dockerName === "string" ? dockerName : r.name)}`;
      const first = owners.get(uid);
      if (!first) owners.set(uid, { principal, name: r.name });
      else if (first.principal !== principal) {
        out.push({ resource: r, field: "user", problem: `runs as UID ${uid}, which ${first.name} (${first.principal}) already runs as`, fix: "give every principal its own UID (@octw/pulumi's tenantIdentityPlan: uidBase + 4·slot + k; shared services 10002–10004)" });
      }
    }
    return out;
  },
};
