// The probes of the multi-host conformance suites, the same whatever stack layout realized the
// platform (two-hosts: one stack; per-host-layout: a shared stack and one per host): from inside
// the tenants' gateways (docker exec as their own users), the attack suite's cross-tenant, egress
// and DNS probes on both hosts, and the cross-host probes — a tenant on A reaches nothing on B (B's
// engine API, B's edge's tenant-side addresses, B's tenants) and nothing of the audit store; audit
// events from both hosts' edges land in one verifiable chain per tenant; A's edge refuses B's
// tenant with 421. Every probe has a positive control (the same probe from a container that must
// get through). Each row goes into the fixture's probe table; a test fails on any failed row.
// Call the describe* functions at a suite's top level; the fixture is filled in its beforeAll.
import { describe, expect, it } from "vitest";
import pg from "pg";
import type Dockerode from "dockerode";
import { AUDIT_SCHEMA, readEvents, verifyAuditChain } from "@octw/audit";
import { ALLOWED_PORT, type HostName, type MultiHostFixture, type Tenant } from "./multi-host-platform";
import { execIn, nodeProbe } from "./probe-exec";
import * as P from "./probe-scripts";

function rows(label: string, results: boolean[]): void {
  expect(results.every(Boolean), `${label}: see the probe table`).toBe(true);
}

type Tcp = { ok: boolean; err?: string; data?: string };
const tcp = (d: Dockerode, id: string, host: string, port: number, user?: string, payload = ""): Promise<Tcp> =>
  nodeProbe<Tcp>(d, id, P.TCP_PROBE, [host, String(port), payload, "4000"], user ? { user } : {});
const said = (r: Tcp) => (r.ok ? "connected" : `no connection (${r.err})`);

/** Probes from a tenant's gateway (as its user) and from a host's edge. */
function probesOf(fx: MultiHostFixture) {
  return {
    fromTenant: (t: Tenant, host: string, port: number, payload = "") => tcp(fx.H[t.host].docker, t.gateway, host, port, t.user, payload),
    fromEdge: (hn: HostName, host: string, port: number, payload = "") => tcp(fx.H[hn].docker, fx.H[hn].edge, host, port, undefined, payload),
  };
}

/** On each host: cross-tenant, direct egress and proxy allowlist, DNS. */
export function describeProbesOnEachHost(fx: MultiHostFixture): void {
  const { fromTenant, fromEdge } = probesOf(fx);
  describe("the attack suite's probes on each host", () => {
    for (const hn of ["a", "b"] as const) {
      it(`host ${hn}: a tenant reaches neither its neighbour's gateway nor its egress proxy (control: the host's edge reaches the neighbour)`, async () => {
        const [me, other] = fx.H[hn].tenants.map((id) => fx.T[id]!);
        const targets: [string, string, number][] = [
          ["gateway by IP", other!.gatewayIp, 18789],
          ["gateway by name", other!.gatewayName, 18789],
          ["egress proxy by IP", other!.egressIp, 3128],
        ];
        const r: boolean[] = [];
        for (const [label, host, port] of targets) {
          const x = await fromTenant(me!, host, port);
          r.push(fx.table.add(`${hn}1 ${me!.id} → ${other!.id} ${label}`, "no connection", said(x), !x.ok));
        }
        const ctl = await fromEdge(hn, other!.gatewayIp, 18789);
        r.push(fx.table.add(`${hn}1 edge → ${other!.id} gateway (control)`, "connects", said(ctl), ctl.ok));
        const own = await fromTenant(me!, me!.egressIp, 3128);
        r.push(fx.table.add(`${hn}1 ${me!.id} → own egress proxy (control)`, "connects", said(own), own.ok));
        rows(`host ${hn} cross-tenant`, r);
      });

      it(`host ${hn}: a tenant cannot reach the outside directly, and through its proxy only what is allowed`, async () => {
        const me = fx.T[fx.H[hn].tenants[0]]!;
        const tk = { direct: fx.token(`${hn}-direct`), ctl: fx.token(`${hn}-direct-ctl`), denied: fx.token(`${hn}-px-no`), ok: fx.token(`${hn}-px-ok`) };
        const req = (t: string) => Buffer.from(`GET /${t} HTTP/1.1\r\nHost: outside\r\nConnection: close\r\n\r\n`).toString("base64");
        const direct = await fromTenant(me, fx.outsideAddr, ALLOWED_PORT, req(tk.direct));
        const ctl = await fromEdge(hn, fx.outsideAddr, ALLOWED_PORT, req(tk.ctl));
        const via = (target: string, t: string) => nodeProbe<{ status: string; body?: string }>(fx.H[hn].docker, me.gateway, P.CONNECT_PROBE, [me.egressIp, "3128", target, t, "10000"], { user: me.user });
        const denied = await via(`notallowed.octw.test:${ALLOWED_PORT}`, tk.denied);
        const ok = await via(`allowed.octw.test:${ALLOWED_PORT}`, tk.ok);
        rows(`host ${hn} egress`, [
          fx.table.add(`${hn}2 ${me.id} → outside direct`, "no connection, nothing arrives", `${said(direct)}; arrived ${fx.outside!.seen(tk.direct).length}`, !direct.ok && fx.outside!.seen(tk.direct).length === 0),
          fx.table.add(`${hn}2 edge → outside direct (control)`, "arrives (the host routes out)", `${said(ctl)}; arrived ${fx.outside!.seen(tk.ctl).length}`, ctl.ok && fx.outside!.seen(tk.ctl).length === 1),
          fx.table.add(`${hn}2 ${me.id} CONNECT host not on its allowlist`, "403, nothing arrives", `${denied.status}; arrived ${fx.outside!.seen(tk.denied).length}`, denied.status === "403" && fx.outside!.seen(tk.denied).length === 0),
          fx.table.add(`${hn}2 ${me.id} CONNECT allowlisted host (control)`, "200, arrives", `${ok.status}; arrived ${fx.outside!.seen(tk.ok).length}`, ok.status === "200" && fx.outside!.seen(tk.ok).length === 1),
        ]);
      });

      it(`host ${hn}: no DNS query leaves a tenant's network (control: the engine's default DNS path reaches the observer)`, async () => {
        const me = fx.T[fx.H[hn].tenants[0]]!;
        const tk = { t: fx.token(`${hn}-exfil`), open: fx.token(`${hn}-exfil-open`) };
        const look = (id: string, name: string, user?: string) => nodeProbe<{ ok: boolean; addr?: string; err?: string }>(fx.H[hn].docker, id, P.DNS_PROBE, [name], user ? { user } : {});
        const [a, own, open] = await Promise.all([look(me.gateway, `${tk.t}.exfil.octw.test`, me.user), look(me.gateway, me.egressName, me.user), look(fx.H[hn].ctlDnsOpen, `${tk.open}.exfil.octw.test`)]);
        await new Promise((r) => setTimeout(r, 500));
        rows(`host ${hn} dns`, [
          fx.table.add(`${hn}8 ${me.id} looks up an outside name`, "no query reaches any DNS server", `${a.ok ? "resolved" : a.err}; seen ${fx.dns!.seen(tk.t).length}`, fx.dns!.seen(tk.t).length === 0),
          fx.table.add(`${hn}8 ${me.id} resolves its own proxy (control)`, "container names resolve", own.ok ? String(own.addr) : String(own.err), own.ok && own.addr === me.egressIp),
          fx.table.add(`${hn}8 plain bridge, default DNS (control)`, "query reaches the fake DNS: the observer sees this engine", `${open.ok ? "resolved" : open.err}; seen ${fx.dns!.seen(tk.open).length}`, fx.dns!.seen(tk.open).length > 0),
        ]);
      });
    }
  });
}

/** Across the hosts: A's tenant reaches nothing on B, no tenant reaches the audit store, 421 and one chain per tenant. */
export function describeCrossHostProbes(fx: MultiHostFixture): void {
  const { fromTenant, fromEdge } = probesOf(fx);
  describe("across the hosts", () => {
    it("a tenant on A reaches nothing on B: its engine API, its edge's tenant-side addresses, its tenants (controls from inside B and from A's edge)", async () => {
      const alpha = fx.T.alpha!;
      const charlie = fx.T.charlie!;
      const delta = fx.T.delta!;
      const r: boolean[] = [];
      const api = await fromTenant(alpha, fx.b!.address, 2376);
      const apiCtl = await fromEdge("a", fx.b!.address, 2376);
      r.push(fx.table.add("x1 alpha → B's engine API", "no connection", said(api), !api.ok));
      r.push(fx.table.add("x1 A's edge → B's engine API (control)", "connects (TLS client auth guards it there)", said(apiCtl), apiCtl.ok));
      for (const t of [charlie, delta]) {
        const e = await fromTenant(alpha, t.edgeIp, 8443);
        const eCtl = await fromTenant(t, t.edgeIp, 8443);
        r.push(fx.table.add(`x2 alpha → B's edge on ${t.id}'s network`, "no connection", said(e), !e.ok));
        r.push(fx.table.add(`x2 ${t.id} → its edge (control)`, "connects", said(eCtl), eCtl.ok));
        const g = await fromTenant(alpha, t.gatewayIp, 18789);
        const gCtl = await fromEdge("b", t.gatewayIp, 18789);
        r.push(fx.table.add(`x3 alpha → ${t.id}'s gateway`, "no connection", said(g), !g.ok));
        r.push(fx.table.add(`x3 B's edge → ${t.id}'s gateway (control)`, "connects", said(gCtl), gCtl.ok));
      }
      // and the other way: a tenant on B reaches nothing of A's tenants
      const back = await fromTenant(charlie, alpha.gatewayIp, 18789);
      r.push(fx.table.add("x3 charlie → alpha's gateway", "no connection", said(back), !back.ok));
      rows("cross-host", r);
    });

    it("no tenant on either host reaches the audit store; both edges do; a plaintext login is refused and a wrong CA is not trusted", async () => {
      const r: boolean[] = [];
      for (const id of ["alpha", "bravo", "charlie", "delta"]) {
        const x = await fromTenant(fx.T[id]!, fx.pgTls!.address, fx.pgTls!.port);
        r.push(fx.table.add(`x4 ${id} → audit store`, "no connection", said(x), !x.ok));
      }
      for (const hn of ["a", "b"] as const) {
        const x = await fromEdge(hn, fx.pgTls!.address, fx.pgTls!.port);
        r.push(fx.table.add(`x4 ${hn}'s edge → audit store (control)`, "connects", said(x), x.ok));
      }
      const login = async (ssl: pg.ClientConfig["ssl"]) => {
        const c = new pg.Client({ host: fx.pgTls!.address, port: fx.pgTls!.port, user: fx.pgTls!.adminUser, password: fx.pgTls!.adminPassword, database: "postgres", ssl, connectionTimeoutMillis: 5_000 });
        try {
          await c.connect();
          await c.end();
          return "logged in";
        } catch (e) {
          return `refused: ${String((e as Error).message).slice(0, 80)}`;
        }
      };
      const plain = await login(false);
      const wrongCa = await login({ ca: fx.b!.otherCa, rejectUnauthorized: true });
      const right = await login({ ca: fx.pgTls!.ca, rejectUnauthorized: true });
      r.push(fx.table.add("x5 plaintext login", "refused (hostssl only)", plain, /no encryption|pg_hba/.test(plain)));
      r.push(fx.table.add("x5 TLS, server checked against another CA", "refused", wrongCa, wrongCa.startsWith("refused") && /certificate|self[- ]signed|verify/i.test(wrongCa)));
      r.push(fx.table.add("x5 TLS verified against the platform's CA (control)", "logged in", right, right === "logged in"));
      rows("audit store", r);
    });

    it("A's edge refuses B's tenant with 421; B's edge serves it; both decisions are in one verifiable chain for that tenant", async () => {
      const charlieTok = await fx.sign("charlie");
      const atA = await fx.edgeA("charlie", charlieTok, "/healthz");
      const atB = fx.edgeB("charlie", charlieTok, "/healthz");
      const alphaAtA = await fx.edgeA("alpha", await fx.sign("alpha"), "/healthz");
      const r: boolean[] = [
        fx.table.add("x6 charlie's token at A's edge", "421, names nothing", `${atA.status} ${atA.body}`, atA.status === 421 && atA.body === JSON.stringify({ error: "misdirected_request" })),
        fx.table.add("x6 charlie's token at B's edge (control)", "200 from charlie's gateway", `${atB.status} ${atB.body.slice(0, 40)}`, atB.status === 200 && atB.body.trim().startsWith("{")),
        fx.table.add("x6 alpha's token at A's edge (control)", "200 from alpha's gateway", `${alphaAtA.status} ${alphaAtA.body.slice(0, 40)}`, alphaAtA.status === 200 && alphaAtA.body.trim().startsWith("{")),
      ];
      // the edges flush their audit buffers on their own schedule
      const c = await fx.pgTls!.connect(fx.databaseName);
      try {
        const deadline = Date.now() + 30_000;
        let events = await readEvents(c, { tenant: "charlie", limit: 1000 });
        const reason = (e: (typeof events)[number]) => (e.details as { reason?: string } | null)?.reason;
        const both = () => events.some((e) => reason(e) === "hosted_elsewhere" && e.decision === "denied") && events.some((e) => e.action === "edge.auth.allowed");
        while (!both() && Date.now() < deadline) {
          await new Promise((res) => setTimeout(res, 500));
          events = await readEvents(c, { tenant: "charlie", limit: 1000 });
        }
        const report = await verifyAuditChain(c, { tenant: "charlie" });
        const alphaReport = await verifyAuditChain(c, { tenant: "alpha" });
        r.push(fx.table.add("x7 charlie's trail: A's 421 and B's allow", "both recorded", events.map((e) => `${e.action}/${reason(e)}`).join(", "), both()));
        r.push(fx.table.add("x7 charlie's chain verifies", "ok", JSON.stringify(report.tenants.map((x) => [x.tenant, x.verified, x.broken === null])), report.ok && report.tenants.length === 1 && report.tenants[0]!.verified >= events.length));
        r.push(fx.table.add("x7 alpha's chain verifies (A only)", "ok", String(alphaReport.ok), alphaReport.ok && (await readEvents(c, { tenant: "alpha", limit: 10 })).length > 0));
        // the check itself notices a broken link (control): a copy of the chain with one event altered
        await c.query("BEGIN");
        try {
          await c.query(`SET LOCAL session_replication_role = replica`);
          const first = events[0]!;
          await c.query(`UPDATE ${AUDIT_SCHEMA}.audit_events SET actor = 'mallory' WHERE id = $1::bigint`, [first.id]);
          // inside this transaction (the altered row is seen only here and rolled back)
          const broken = await verifyAuditChain(c, { tenant: "charlie", withinTransaction: true });
          r.push(fx.table.add("x7 an altered event breaks the chain (control)", "not ok", String(broken.ok), broken.ok === false));
        } finally {
          await c.query("ROLLBACK");
        }
      } finally {
        await c.end();
      }
      rows("421 and audit", r);
    });
  });
}

/** The probe helpers really ran on the engines of this run (the probes above would be vacuous otherwise). */
export function describeProbeSanity(fx: MultiHostFixture): void {
  describe("teardown checks", () => {
    it("the probe helpers ran against the engines of this run", () => {
      expect(Object.keys(fx.T).sort()).toEqual(["alpha", "bravo", "charlie", "delta"]);
      expect(fx.T.charlie!.host).toBe("b");
      // sanity that exec on b works as its tenants' users (the probes above would be vacuous otherwise)
      return execIn(fx.b!.docker, fx.T.charlie!.gateway, ["id", "-u"], { user: fx.T.charlie!.user }).then((x) => expect(x.stdout.trim()).toBe(fx.T.charlie!.user.split(":")[0]));
    });
  });
}
