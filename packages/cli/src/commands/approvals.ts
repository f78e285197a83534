import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { AUDIT_SCHEMA } from "@octw/audit";
import { hostProblem, ipOrCidrProblem, parsePolicyDocument } from "@octw/contracts";
import { isMap, isScalar, isSeq, parseDocument, Scalar, type Document, type YAMLMap } from "yaml";
import { approvalBranchName, prepareApprovalBranch } from "./approval-branch";
import { cliActor, databaseUrl, directAudit, withPool } from "./connection";

/**
 * Blocked egress surfaced for approval.
 *
 * `list` reads the `egress.denied` events the egress-audit shipper records and shows every
 * destination that has no decision yet. `approve` writes an allow rule into the tenant's
 * policy in the stack's config file — it takes effect through the normal path (a reviewed PR,
 * then `pulumi up`, which re-renders only that tenant's egress proxy). `reject` only records
 * the decision. Both decisions are audit events, recorded before the file is written, so no
 * approval exists without its record.
 */

export const APPROVED_ACTION = "egress.approval.approved";
export const REJECTED_ACTION = "egress.approval.rejected";
const PLATFORM_KEY = "octw:platform";

export interface Destination {
  host: string;
  port: number;
  /**
   * Addresses the name may resolve to. Needed for a destination that is not public (the proxy
   * refuses non-public addresses unless the rule pins them), e.g. a partner's internal API.
   */
  allowedIps?: string[];
}

/** `host:port` as the agent asked for it; the host must be an allowlistable DNS name. */
export function parseDestination(text: string): Destination {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`destination: must be host:port (e.g. api.example.com:443), got ${JSON.stringify(text)}`);
  const host = m[1]!.toLowerCase();
  const port = Number(m[2]);
  if (port < 1 || port > 65_535) throw new Error(`destination: port must be 1..65535, got ${port}`);
  const problem = hostProblem(host);
  if (problem) throw new Error(`destination: host "${host}" ${problem}`);
  return { host, port };
}

/** The `network_policies` key of an approval: lowercase identifier, at most 63 characters. */
export function approvalPolicyKey(d: Destination): string {
  const base = `approved_${d.host.replace(/[^a-z0-9]/g, "_")}_${d.port}`;
  if (base.length <= 63) return base;
  // Long names: keep a readable prefix and make it unique with a short digest of the full name.
  let h = 0;
  for (const c of `${d.host}:${d.port}`) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `${base.slice(0, 54)}_${h.toString(16).padStart(8, "0")}`;
}

export function tenantNode(doc: Document, tenant: string): YAMLMap {
  const tenants = doc.getIn(["config", PLATFORM_KEY, "tenants"], true);
  if (!isSeq(tenants)) throw new Error(`stack file: config."${PLATFORM_KEY}".tenants is missing or not a list`);
  const matches = tenants.items.filter((t): t is YAMLMap => isMap(t) && t.get("id") === tenant);
  if (matches.length === 0) {
    const ids = tenants.items.map((t) => (isMap(t) ? String(t.get("id")) : "?"));
    throw new Error(`tenant: "${tenant}" is not in the stack file (tenants: ${ids.join(", ")})`);
  }
  if (matches.length > 1) throw new Error(`tenant: "${tenant}" appears ${matches.length} times in the stack file`);
  return matches[0]!;
}

/** Whether a policy object already has an endpoint for exactly this host and port. */
function alreadyAllowed(policy: unknown, d: Destination): string | undefined {
  const nps = (policy as { network_policies?: Record<string, { endpoints?: { host?: string; port?: number; ports?: number[] }[] }> } | null)?.network_policies ?? {};
  for (const [key, np] of Object.entries(nps)) {
    for (const ep of np.endpoints ?? []) {
      if (ep.host === d.host && (ep.port === d.port || (ep.ports ?? []).includes(d.port))) return key;
    }
  }
  return undefined;
}

/** Adds `network_policies.<key>` to a policy mapping node (creating `network_policies` if absent). */
/** The `network_policies` entry an approval adds. */
function ruleFor(key: string, d: Destination): { name: string; endpoints: { host: string; port: number; allowed_ips?: string[] }[] } {
  return { name: key.replace(/_/g, "-"), endpoints: [{ host: d.host, port: d.port, ...(d.allowedIps?.length ? { allowed_ips: d.allowedIps } : {}) }] };
}

function addRuleToMap(doc: Document, policy: YAMLMap, key: string, d: Destination, subject: string): void {
  const entry = doc.createNode(ruleFor(key, d));
  const nps = policy.get("network_policies", true);
  if (nps === undefined || (isScalar(nps) && nps.value === null)) {
    const map = doc.createNode({}) as YAMLMap;
    map.set(key, entry);
    policy.set("network_policies", map);
    return;
  }
  if (!isMap(nps)) throw new Error(`${subject}.network_policies: is not a mapping`);
  if (nps.has(key)) throw new Error(`${subject}.network_policies.${key}: already exists`);
  nps.set(key, entry);
}

/** Column (0-based) of a text offset. */
export function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf("\n", offset - 1) + 1);
}

function reindent(piece: string, shift: number): string {
  if (shift === 0) return piece;
  return piece
    .split("\n")
    .map((line, i) => (i === 0 || line.length === 0 ? line : shift > 0 ? " ".repeat(shift) + line : line.slice(Math.min(-shift, line.length - line.trimStart().length))))
    .join("\n");
}

function policyPair(text: string, tenant: string) {
  const t = tenantNode(parseDocument(text), tenant);
  const pair = t.items.find((p) => isScalar(p.key) && p.key.value === "policy");
  return { t, pair };
}

/**
 * Re-serialising a whole YAML document normalises formatting everywhere (flow lists, quotes,
 * spacing). So only the edited tenant's `policy` is taken from the re-serialised text and
 * spliced into the original at its source position (re-indented to the original's column):
 * every byte outside that tenant's policy is the original's.
 */
function splicePolicy(original: string, tenant: string, edited: string): string {
  const o = policyPair(original, tenant);
  const e = policyPair(edited, tenant);
  const eKey = e.pair?.key as Scalar | undefined;
  const eVal = e.pair?.value as Scalar | YAMLMap | undefined;
  if (!eKey?.range || !eVal?.range) throw new Error(`stack file: no source position for tenant "${tenant}"'s policy`);
  const oKey = o.pair?.key as Scalar | undefined;
  const oVal = o.pair?.value as Scalar | YAMLMap | null | undefined;
  if (oKey?.range && oVal?.range) {
    const shift = columnOf(original, oKey.range[0]) - columnOf(edited, eKey.range[0]);
    const piece = reindent(edited.slice(eVal.range[0], eVal.range[1]), shift);
    const eol = original.slice(oVal.range[0], oVal.range[1]).endsWith("\n") ? "\n" : "";
    return original.slice(0, oVal.range[0]) + piece.replace(/\n+$/, "") + eol + original.slice(oVal.range[1]);
  }
  // No policy before: insert `policy: ...` after the tenant's last entry, at its keys' column.
  const tRange = o.t.range;
  const firstKey = o.t.items[0]?.key as Scalar | undefined;
  if (!tRange || !firstKey?.range) throw new Error(`stack file: no source position for tenant "${tenant}"`);
  const col = columnOf(original, firstKey.range[0]);
  const piece = reindent(edited.slice(eKey.range[0], eVal.range[1]), col - columnOf(edited, eKey.range[0])).replace(/\n+$/, "");
  const at = tRange[1];
  const before = original.slice(0, at);
  const lead = before.endsWith("\n") ? "" : "\n";
  const trail = before.endsWith("\n") ? "\n" : "";
  return before + lead + " ".repeat(col) + piece + trail + original.slice(at);
}

/**
 * Adds an allow rule for `d` to `tenant`'s policy in a stack config file's text and returns the
 * new text. Only that tenant's `policy` node changes: comments, order and formatting of the
 * rest of the file are kept (yaml's Document API). The policy may be a mapping, YAML text in a
 * block scalar (edited as YAML inside, and kept a block scalar), or absent (created).
 */
export function approveInStackFile(text: string, tenant: string, d: Destination): { text: string; policyKey: string } {
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length) throw new Error(`stack file: not valid YAML (${doc.errors[0]!.message.split("\n")[0]})`);
  const t = tenantNode(doc, tenant);
  const key = approvalPolicyKey(d);
  const current = t.get("policy", true);
  const subject = `tenants[id=${tenant}].policy`;
  const refuseDuplicate = (policy: unknown) => {
    const existing = alreadyAllowed(policy, d);
    if (existing) throw new Error(`${d.host}:${d.port} is already allowed for tenant "${tenant}" (network_policies.${existing})`);
  };
  if (current === undefined || (isScalar(current) && current.value === null)) {
    t.set("policy", doc.createNode({ version: 1, network_policies: { [key]: ruleFor(key, d) } }));
  } else if (isScalar(current) && typeof current.value === "string") {
    // YAML text inside a block scalar: edit it as its own document, keep it a block scalar.
    const inner = parseDocument(current.value);
    if (inner.errors.length) throw new Error(`${subject}: not valid YAML (${inner.errors[0]!.message.split("\n")[0]})`);
    if (!isMap(inner.contents)) throw new Error(`${subject}: must be a mapping`);
    refuseDuplicate(inner.toJS());
    addRuleToMap(inner, inner.contents, key, d, subject);
    const node = new Scalar(inner.toString());
    node.type = Scalar.BLOCK_LITERAL;
    if (current.comment) node.comment = current.comment;
    if (current.commentBefore) node.commentBefore = current.commentBefore;
    t.set("policy", node);
  } else if (isMap(current)) {
    refuseDuplicate(current.toJSON());
    addRuleToMap(doc, current, key, d, subject);
  } else {
    throw new Error(`${subject}: must be a mapping or YAML text, found ${isSeq(current) ? "a list" : "a scalar"}`);
  }
  const out = splicePolicy(text, tenant, doc.toString());
  // The result must still be a valid policy (same validation SandboxPolicy applies).
  const after = tenantNode(parseDocument(out), tenant).toJSON() as { policy?: unknown };
  parsePolicyDocument(after.policy, `stack file tenant "${tenant}"`, subject);
  return { text: out, policyKey: key };
}

export interface PendingDestination {
  tenant: string;
  destination: string;
  methods: string[];
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  decision: "approved" | "rejected" | null;
  decidedAt: Date | null;
}

/** Denied destinations (aggregated over all their events) and the latest decision on each. */
export const PENDING_SQL = `
WITH denied AS (
  SELECT tenant, target,
         array_agg(DISTINCT details->>'method') AS methods,
         sum(coalesce((details->>'count')::bigint, 1))::bigint AS count,
         min(coalesce((details->>'first_seen')::timestamptz, time)) AS first_seen,
         max(coalesce((details->>'last_seen')::timestamptz, time)) AS last_seen
    FROM ${AUDIT_SCHEMA}.audit_events
   WHERE action = 'egress.denied' AND ($1::text IS NULL OR tenant = $1)
   GROUP BY tenant, target
), decided AS (
  SELECT DISTINCT ON (tenant, target) tenant, target, action, time
    FROM ${AUDIT_SCHEMA}.audit_events
   WHERE action IN ('${APPROVED_ACTION}', '${REJECTED_ACTION}') AND ($1::text IS NULL OR tenant = $1)
   ORDER BY tenant, target, seq DESC
)
SELECT d.tenant, d.target, d.methods, d.count, d.first_seen, d.last_seen, x.action AS decision, x.time AS decided_at
  FROM denied d LEFT JOIN decided x USING (tenant, target)
 WHERE $2::boolean OR x.action IS NULL
 ORDER BY d.last_seen DESC, d.tenant, d.target`;

export async function listPending(db: { query: (sql: string, params: unknown[]) => Promise<{ rows: unknown[] }> }, options: { tenant?: string; all?: boolean } = {}): Promise<PendingDestination[]> {
  const { rows } = await db.query(PENDING_SQL, [options.tenant ?? null, options.all ?? false]);
  return (rows as { tenant: string; target: string; methods: (string | null)[]; count: string; first_seen: Date; last_seen: Date; decision: string | null; decided_at: Date | null }[]).map((r) => ({
    tenant: r.tenant,
    destination: r.target,
    methods: r.methods.filter((m): m is string => m !== null),
    count: Number(r.count),
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    decision: r.decision === APPROVED_ACTION ? "approved" : r.decision === REJECTED_ACTION ? "rejected" : null,
    decidedAt: r.decided_at,
  }));
}

/** Writes next to the file and renames over it, keeping its mode: readers never see half a file. */
async function replaceFile(path: string, text: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  const tmp = join(dirname(path), `.${basename(path)}.octw-${process.pid}.tmp`);
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

interface DbOption {
  databaseUrl?: string;
}

export function registerApprovalsCommands(program: Command): void {
  const approvals = program.command("approvals").description("blocked egress destinations: list, approve (into the stack's tenant policy), reject");

  approvals
    .command("list")
    .description("destinations the tenants' egress proxies refused, with counts and first/last seen (pending only, unless --all)")
    .option("--tenant <tenant>", "only this tenant")
    .option("--all", "include destinations already approved or rejected")
    .option("--json", "print JSON")
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (opts: DbOption & { tenant?: string; all?: boolean; json?: boolean }) => {
      const list = await withPool(databaseUrl(opts.databaseUrl), (pool) => listPending(pool, { ...(opts.tenant ? { tenant: opts.tenant } : {}), all: Boolean(opts.all) }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        process.stdout.write(opts.all ? "no denied destinations\n" : "no pending destinations\n");
        return;
      }
      const header = ["TENANT", "DESTINATION", "METHODS", "COUNT", "FIRST SEEN", "LAST SEEN", ...(opts.all ? ["DECISION"] : [])];
      const rows = list.map((p) => [p.tenant, p.destination, p.methods.join(","), String(p.count), p.firstSeen.toISOString(), p.lastSeen.toISOString(), ...(opts.all ? [p.decision ?? "pending"] : [])]);
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [header, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
    });

  approvals
    .command("approve")
    .description("allow <host:port> for <tenant> by adding a rule to its policy in the stack config file (review, then pulumi up)")
    .argument("<tenant>", "tenant id")
    .argument("<destination>", "host:port, e.g. api.example.com:443")
    .requiredOption("--stack-file <path>", "the stack config file, e.g. stacks/Pulumi.local.yaml")
    .option("--reason <text>", "why (recorded in the audit event)")
    .option("--allowed-ip <ip-or-cidr...>", "pin the addresses the name may resolve to (required for a non-public destination)")
    .option("--branch [name]", "instead of editing the file in place, commit the change on a new git branch off HEAD (default octw/approve-<tenant>-<host>-<port>) whose only change is this tenant's policy")
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (tenant: string, destination: string, opts: DbOption & { stackFile: string; reason?: string; allowedIp?: string[]; branch?: string | boolean }) => {
      const d = parseDestination(destination);
      for (const ip of opts.allowedIp ?? []) {
        const problem = ipOrCidrProblem(ip);
        if (problem) throw new Error(`--allowed-ip: "${ip}" ${problem}`);
      }
      if (opts.allowedIp?.length) d.allowedIps = [...new Set(opts.allowedIp)];
      let text: string;
      try {
        text = await readFile(opts.stackFile, "utf8");
      } catch (e) {
        throw new Error(`--stack-file ${opts.stackFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
      }
      const result = approveInStackFile(text, tenant, d);
      await withPool(databaseUrl(opts.databaseUrl), (pool) =>
        directAudit(pool).record({
          tenant,
          actor: cliActor(),
          action: APPROVED_ACTION,
          target: `${d.host}:${d.port}`,
          decision: "approved",
          details: { stack_file: basename(opts.stackFile), policy_key: result.policyKey, ...(d.allowedIps ? { allowed_ips: d.allowedIps } : {}), ...(opts.reason ? { reason: opts.reason.slice(0, 500) } : {}) },
        }),
      );
      if (opts.branch) {
        const branch = typeof opts.branch === "string" ? opts.branch : approvalBranchName(tenant, d);
        const message = `octw approvals: allow ${d.host}:${d.port} for tenant ${tenant}\n\nAdds network_policies.${result.policyKey} to tenant ${tenant}'s policy; recorded as audit event ${APPROVED_ACTION}.\n`;
        const prepared = await prepareApprovalBranch({ stackFile: opts.stackFile, text: result.text, branch, message });
        process.stdout.write(
          `approved ${d.host}:${d.port} for tenant ${tenant}: branch ${prepared.branch} (commit ${prepared.commit.slice(0, 12)}) adds network_policies.${result.policyKey} to ${prepared.path}, its only change\n` +
            `push it (git push -u origin ${prepared.branch}) and open a pull request: its preview shows only this tenant's egress proxy changing\n`,
        );
        return;
      }
      await replaceFile(opts.stackFile, result.text);
      process.stdout.write(
        `approved ${d.host}:${d.port} for tenant ${tenant}: added network_policies.${result.policyKey} to ${opts.stackFile}\n` +
          "review the change (git diff), open a PR, and run pulumi up: only this tenant's egress proxy is re-rendered\n",
      );
    });

  approvals
    .command("reject")
    .description("record that <host:port> stays blocked for <tenant> (it leaves the pending list)")
    .argument("<tenant>", "tenant id")
    .argument("<destination>", "host:port")
    .option("--reason <text>", "why (recorded in the audit event)")
    .option("--database-url <url>", "Postgres URL (default: $OCTW_AUDIT_DATABASE_URL)")
    .action(async (tenant: string, destination: string, opts: DbOption & { reason?: string }) => {
      const d = parseDestination(destination);
      await withPool(databaseUrl(opts.databaseUrl), (pool) =>
        directAudit(pool).record({
          tenant,
          actor: cliActor(),
          action: REJECTED_ACTION,
          target: `${d.host}:${d.port}`,
          decision: "rejected",
          ...(opts.reason ? { details: { reason: opts.reason.slice(0, 500) } } : {}),
        }),
      );
      process.stdout.write(`rejected ${d.host}:${d.port} for tenant ${tenant}\n`);
    });
}
