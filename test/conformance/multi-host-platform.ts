// The two-host platform the multi-host conformance suites realize (two-hosts: one stack;
// per-host-layout: a shared stack and one stack per host), and the test environment around it:
// host "a" is the engine under test, host "b" a second dockerd in its own network namespace
// (test/realize/second-engine.ts: TLS with client certificates; a default route over its veth
// pair, so it reaches the first machine's addresses as a neighbouring host would; the suite's fake
// DNS as its --dns). Two tenants on each host; the audit store an external Postgres serving TLS
// only with a certificate from a CA the test makes (test/realize/tls-postgres.ts), reached by
// every service with verify-full against `audit.caCertificate`. After the platform is realized,
// `discover` finds the probes' targets on both engines; `teardown` removes everything (also after
// a failure) and reports what either engine still holds of the run.
//
// Traffic goes only to loopback, to the containers and namespaces this suite creates, and to the
// test environment's fake outside and DNS servers.
import { loopbackGet } from "./loopback-get";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type Dockerode from "dockerode";
import type { OpenClawPlatformArgs, PlatformPlan } from "@octw/pulumi";
import { newRunId, RUN_LABEL } from "../realize/index";
import { copyImage, startSecondEngine, type SecondEngine } from "../realize/second-engine";
import { startTlsPostgres, type TlsPostgres } from "../realize/tls-postgres";
import { engine, requireEnv } from "./env";
import { startFakeDns, type FakeDns } from "./fake-dns";
import { startFakeOutside, type FakeOutside } from "./fake-outside";
import { ProbeTable } from "./report-table";

export const ISSUER = "https://issuer.conformance.test";
export const AUDIENCE = "octw-edge";
export const ALLOWED_PORT = 443;

export type HostName = "a" | "b";
export const HOSTS: readonly HostName[] = ["a", "b"];

export interface Tenant {
  id: string;
  host: HostName;
  gateway: string;
  user: string;
  gatewayName: string;
  egressName: string;
  gatewayIp: string;
  egressIp: string;
  edgeIp: string;
}
export interface Host {
  name: HostName;
  docker: Dockerode;
  edge: string; // container id
  ctlDnsOpen: string;
  tenants: [string, string];
}

type Audit = OpenClawPlatformArgs["audit"];

/** One run of a multi-host suite: its names, the test environment, what was realized. */
export class MultiHostFixture {
  readonly runId = newRunId();
  readonly prefix = `octw-${this.runId}`;
  readonly table = new ProbeTable();
  readonly h = (parseInt(this.runId.slice(1, 3), 16) % 200) + 20;
  readonly edgePort = 20000 + (parseInt(this.runId.slice(3, 7), 16) % 10000);
  readonly auditPort = 25000 + (parseInt(this.runId.slice(-4), 16) % 5000);
  readonly timings: Record<string, number> = {};
  readonly started = Date.now();
  readonly T: Record<string, Tenant> = {};
  readonly H = {} as Record<HostName, Host>;
  dk!: Dockerode;
  b: SecondEngine | undefined;
  pgTls: TlsPostgres | undefined;
  dns: FakeDns | undefined;
  outside: FakeOutside | undefined;
  outsideAddr = "";
  edgeKey!: CryptoKey;
  jwk!: JWK;
  databaseName = "";
  images!: { openclaw: string; egressProxy: string; edge: string };

  /** `label`: the suite's name in its log lines. */
  constructor(readonly label: string) {}

  token(what: string): string {
    return `${what}-${this.runId}-${randomBytes(4).toString("hex")}`;
  }

  private async timed<T>(key: string, f: () => Promise<T> | T): Promise<T> {
    const t = Date.now();
    const r = await f();
    this.timings[key] = Date.now() - t;
    return r;
  }

  /** The first engine, the second one (images copied over), the fake DNS and outside, the edge's signing key. */
  async startEnvironment(): Promise<void> {
    this.dk = await engine();
    this.images = { openclaw: requireEnv("OCTW_IMAGE_OPENCLAW"), egressProxy: requireEnv("OCTW_IMAGE_EGRESS"), edge: requireEnv("OCTW_IMAGE_EDGE") };
    this.outsideAddr = requireEnv("OCTW_TEST_OUTSIDE_ADDR");
    const dnsAddr = requireEnv("OCTW_TEST_DNS_ADDR");
    this.b = await this.timed("secondEngineMs", () => startSecondEngine(this.runId, undefined, 90_000, { dns: [dnsAddr], routeOut: true }));
    const b = this.b;
    await this.timed("copyImagesMs", () => {
      for (const image of Object.values(this.images)) copyImage(image, b.socket);
    });
    const keys = await generateKeyPair("ES256", { extractable: true });
    this.edgeKey = keys.privateKey;
    this.jwk = { ...(await exportJWK(keys.publicKey)), kid: "conformance", alg: "ES256", use: "sig" };
    this.dns = await startFakeDns(dnsAddr, { "allowed.octw.test": this.outsideAddr, "notallowed.octw.test": this.outsideAddr });
    this.outside = await startFakeOutside(this.outsideAddr, [ALLOWED_PORT]);
  }

  /** The external audit store: TLS-only Postgres on the second engine's side of the veth pair. */
  async startAuditServer(): Promise<TlsPostgres> {
    const b = this.b!;
    this.pgTls = await this.timed("auditServerMs", () => startTlsPostgres(this.dk, { runId: this.runId, image: requireEnv("OCTW_IMAGE_POSTGRES"), address: b.peerAddress, port: this.auditPort }));
    // the program verifies the audit server the way libpq does where `pulumi up` runs
    process.env.PGSSLROOTCERT = this.pgTls.caFile;
    this.databaseName = `${this.runId}_audit`;
    return this.pgTls;
  }

  /** The audit section for the TLS Postgres: verify-full against its CA. */
  externalAudit(): Audit {
    const pgTls = this.pgTls!;
    return {
      mode: "external", host: pgTls.address, port: pgTls.port, adminUser: pgTls.adminUser, adminPassword: pulumi.secret(pgTls.adminPassword),
      sslMode: "verify-full", caCertificate: pgTls.ca, databaseName: this.databaseName,
    };
  }

  /** The platform: hosts a (this engine) and b (the second, TLS), alpha and bravo on a, charlie and delta on b. */
  platformConfig(audit: Audit): OpenClawPlatformArgs {
    const { h, b } = this;
    const outsidePolicy = { version: 1 as const, network_policies: { outside: { name: "fake-outside", endpoints: [{ host: "allowed.octw.test", port: ALLOWED_PORT, allowed_ips: [this.outsideAddr] }] } } };
    return {
      prefix: this.prefix,
      domain: "octw.test",
      addressPool: `10.200.${h}.0/24`,
      egressSubnet: `10.201.${h}.0/24`,
      controlSubnet: `10.202.${h}.0/28`,
      ingressSubnet: `10.204.${h}.0/28`,
      images: this.images,
      edge: { hostPort: this.edgePort, hostIp: "127.0.0.1", jwt: { issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwks: [this.jwk] } },
      hosts: [{ name: "a" }, { name: "b", endpoint: b!.host, tls: { ca: b!.tls.ca, cert: b!.tls.cert, key: pulumi.secret(b!.tls.key) } }],
      tenants: [
        { id: "alpha", slot: 1, host: "a", policy: outsidePolicy },
        { id: "bravo", slot: 2, host: "a" },
        { id: "charlie", slot: 3, host: "b", policy: outsidePolicy },
        { id: "delta", slot: 4, host: "b" },
      ],
      audit,
    };
  }

  /**
   * Per host, the DNS control: a container with the engine's default DNS on a plain bridge, whose
   * lookups do reach the fake DNS — so "seen 0" for a tenant is the tenant's containment, not a
   * blind observer. (Not an internal network as in isolation.test.ts: on engine b, in its own
   * namespace, a lookup from an internal network without the fix was not forwarded at all —
   * measured in two-hosts' first run, ENOTFOUND on a vs EAI_AGAIN and nothing seen on b.)
   * `providers`: each host's docker.Provider (none: this engine).
   */
  declareDnsControls(providers: Record<HostName, pulumi.ProviderResource | undefined>): void {
    for (const name of HOSTS) {
      const provider = providers[name];
      const opts = provider ? { provider } : {};
      const net = new docker.Network(`ctl-plain-${name}`, { name: `${this.prefix}-ctl-plain`, driver: "bridge", internal: false, ipamConfigs: [{ subnet: `10.203.${this.h}.16/28` }] }, opts);
      new docker.Container(
        `ctl-dns-open-${name}`,
        { name: `${this.prefix}-ctl-dns-open`, image: this.images.openclaw, user: "4242:4242", command: ["sleep", "infinity"], networksAdvanced: [{ name: net.name }], destroyGraceSeconds: 0 },
        opts,
      );
    }
  }

  /** The probes' targets on both engines, by the names and addresses the plan gave them. */
  async discover(plan: PlatformPlan): Promise<void> {
    const { prefix } = this;
    const engines = { a: this.dk, b: this.b!.docker };
    for (const name of HOSTS) {
      const d = engines[name];
      this.H[name] = {
        name,
        docker: d,
        edge: (await d.getContainer(`${prefix}-edge`).inspect()).Id,
        ctlDnsOpen: (await d.getContainer(`${prefix}-ctl-dns-open`).inspect()).Id,
        tenants: plan.placement.tenantsOf.get(name) as [string, string],
      };
    }
    for (const tp of plan.tenants) {
      const id = tp.config.id;
      const d = engines[tp.host as HostName];
      const g = await d.getContainer(`${prefix}-${id}-gateway`).inspect();
      this.T[id] = {
        id, host: tp.host as HostName, gateway: g.Id, user: g.Config.User,
        gatewayName: `${prefix}-${id}-gateway`, egressName: `${prefix}-${id}-egress`,
        gatewayIp: tp.addresses.gateway, egressIp: tp.addresses.egressProxy, edgeIp: tp.addresses.edge,
      };
    }
  }

  private async leftovers(d: Dockerode): Promise<string[]> {
    const filters = JSON.stringify({ label: [`${RUN_LABEL}=${this.runId}`] });
    const { runId } = this;
    return [
      ...(await d.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.includes(runId)) || c.Labels[RUN_LABEL] === runId).map((c) => `container ${c.Names[0]}`),
      ...(await d.listNetworks({ filters })).map((n) => `network ${n.Name}`),
      ...((await d.listVolumes()).Volumes ?? []).filter((v) => v.Name.includes(runId)).map((v) => `volume ${v.Name}`),
    ];
  }

  /**
   * Prints the probe table, destroys what the run declared (`destroy`, also after a failure), drops
   * the audit database, stops the servers and the second engine; returns what either engine still
   * holds of the run (the caller asserts it is nothing) and throws the teardown's errors.
   */
  async teardown(destroy: () => Promise<void>): Promise<{ a: string[]; b: string[] }> {
    console.log(`\n[${this.label}] run ${this.runId}: probe table\n${this.table.render()}\n`);
    const failures: unknown[] = [];
    await destroy().catch((e: unknown) => failures.push(e));
    await Promise.all([this.dns?.close(), this.outside?.close()]);
    const { pgTls } = this;
    if (pgTls) {
      // the audit database is retained on delete (the platform never drops audit history): the test drops its own
      const c = await pgTls.connect().catch(() => undefined);
      await c?.query(`DROP DATABASE IF EXISTS "${this.databaseName}" WITH (FORCE)`).catch((e: unknown) => failures.push(e));
      await c?.end();
    }
    await pgTls?.stop();
    delete process.env.PGSSLROOTCERT;
    const { b } = this;
    const leftB = b ? await this.leftovers(b.docker).catch((e: unknown) => [`(second engine: ${String(e)})`]) : [];
    await b?.stop();
    const left = this.dk ? await this.leftovers(this.dk) : [];
    console.log(`[${this.label}] left after teardown: a ${left.join(", ") || "nothing"}; b ${leftB.join(", ") || "nothing"}; wall ${((Date.now() - this.started) / 1000).toFixed(1)} s`);
    if (failures.length) throw new AggregateError(failures, "teardown failed");
    return { a: left, b: leftB };
  }

  sign(tenant: string, role = "member"): Promise<string> {
    const claims = new SignJWT({ tenant, role }).setProtectedHeader({ alg: "ES256", kid: "conformance" }).setIssuer(ISSUER).setAudience(AUDIENCE);
    return claims.setSubject(`user-of-${tenant}`).setIssuedAt().setExpirationTime("5m").sign(this.edgeKey);
  }

  /** A request to host a's edge (published on this machine's loopback). */
  edgeA(tenant: string, tok: string, path = "/healthz"): Promise<{ status: number; body: string }> {
    return loopbackGet(`http://127.0.0.1:${this.edgePort}${path}`, { host: `${tenant}.octw.test`, authorization: `Bearer ${tok}` }, 10_000);
  }

  /** A request to host b's edge: published on loopback inside b's namespace (curl there; headers on stdin, not on a command line). */
  edgeB(tenant: string, tok: string, path = "/healthz"): { status: number; body: string } {
    const out = execFileSync("nsenter", [`--net=/run/netns/${this.b!.netns}`, "curl", "-s", "-m", "15", "-H", "@-", "-o", "-", "-w", "\n%{http_code}", `http://127.0.0.1:${this.edgePort}${path}`], {
      input: `Host: ${tenant}.octw.test\nAuthorization: Bearer ${tok}\n`,
      encoding: "utf8",
    });
    const cut = out.lastIndexOf("\n");
    return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
  }
}
