/**
 * The baseline: the same Docker, random and Postgres resources (the tenant audit reader's
 * binding through the same dynamic resource) with the same hardening,
 * declared directly — no components, no validation, no policy parsing, no planners beyond what
 * a hand-written program would hard-code (the seccomp profile and squid config are computed
 * once and pasted, as a hand-written program would paste them).
 */
import * as docker from "@pulumi/docker";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import { AuditSql, buildSeccompProfile, renderSquidConfig } from "@octw/pulumi";
import { IMAGES } from "./with-components.js";

const SECCOMP = `seccomp=${JSON.stringify(buildSeccompProfile())}`;
const SQUID_B64 = Buffer.from(
  renderSquidConfig({
    tenantId: "t",
    rules: [
      { policy: "github", host: "api.github.com", ports: [443], allowedIps: [] },
      { policy: "github", host: "codeload.github.com", ports: [443], allowedIps: [] },
      { policy: "github", host: "raw.githubusercontent.com", ports: [443], allowedIps: [] },
    ],
  }),
).toString("base64");
const ulimits = [
  { name: "nproc", soft: 512, hard: 512 },
  { name: "nofile", soft: 8192, hard: 8192 },
  { name: "core", soft: 0, hard: 0 },
];
const hardening = (uid: number) => ({
  user: `${uid}:${uid}`,
  readOnly: true,
  privileged: false,
  capabilities: { drops: ["ALL"] },
  securityOpts: ["no-new-privileges:true", SECCOMP],
  memorySwap: 1536,
  cpus: "1",
  ulimits,
  ipcMode: "private",
  shmSize: 16,
  logDriver: "json-file",
  logOpts: { "max-size": "10m", "max-file": "3" },
});
const ip = (slot: number, offset: number) => {
  const v = (10 << 24) + (64 << 16) + slot * 32 + offset;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
};

export function declareBaseline(tenants: number): void {
  const egress = new docker.Network("bench-egress", { name: "bench-egress", driver: "bridge", ipamConfigs: [{ subnet: "10.63.0.0/24" }], options: { "com.docker.network.bridge.enable_icc": "false" } });
  const control = new docker.Network("bench-control", { name: "bench-control", driver: "bridge", internal: true, ipamConfigs: [{ subnet: "10.63.1.0/28" }] });
  const pgImage = new docker.RemoteImage("bench-pg-image", { name: IMAGES.postgres, keepLocally: true });
  const pgVolume = new docker.Volume("bench-pgdata", { name: "bench-audit-pgdata" });
  const superPw = new random.RandomPassword("bench-super", { length: 40, special: false });
  const pgInit = new docker.Container("bench-pg-init", { name: "bench-audit-pgdata-init", image: pgImage.imageId, ...hardening(5432), readOnly: false, user: "0:0", networkMode: "none", capabilities: { drops: ["ALL"], adds: ["CHOWN", "FOWNER"] }, mounts: [{ type: "volume", source: pgVolume.name, target: "/data" }], uploads: [{ file: "/data/.pw", content: superPw.result }], attach: true, mustRun: false });
  const pg = new docker.Container("bench-pg", { name: "bench-audit-postgres", image: pgImage.imageId, ...hardening(5432), memory: 512, networksAdvanced: [{ name: control.name, ipv4Address: "10.63.1.2" }], mounts: [{ type: "volume", source: pgVolume.name, target: "/var/lib/postgresql/data" }], healthcheck: { tests: ["CMD", "pg_isready"] }, wait: true }, { dependsOn: [pgInit] });
  const provider = new postgresql.Provider("bench-pg-admin", { host: "10.63.1.2", port: 5432, username: "postgres", password: superPw.result, sslmode: "disable", superuser: true }, { dependsOn: [pg] });
  for (const role of ["owner", "writer", "reader"]) {
    const pw = new random.RandomPassword(`bench-${role}-pw`, { length: 40, special: false });
    new postgresql.Role(`bench-${role}`, { name: `bench_audit_${role}`, login: true, password: pw.result }, { provider });
  }
  new postgresql.Database("bench-db", { name: "octw_audit", owner: "bench_audit_owner" }, { provider });
  for (let i = 0; i < 9; i++) new postgresql.Grant(`bench-grant-${i}`, { database: "octw_audit", role: "bench_audit_writer", objectType: "database", privileges: ["CONNECT"] }, { provider, deleteBeforeReplace: true });

  for (let slot = 1; slot <= tenants; slot++) {
    const id = `t${slot}`;
    const uid = 200_000 + slot * 4;
    const net = new docker.Network(`bench-${id}-network`, {
      name: `bench-${id}-net`,
      driver: "bridge",
      internal: true,
      ipamConfigs: [{ subnet: `${ip(slot, 0)}/27`, gateway: ip(slot, 1) }],
      options: { "com.docker.network.bridge.inhibit_ipv4": "true" },
      labels: [{ label: "octw.tenant", value: id }],
    });
    const proxyImage = new docker.RemoteImage(`bench-${id}-proxy-image`, { name: IMAGES.egressProxy, keepLocally: true });
    new docker.Container(`bench-${id}-proxy`, {
      name: `bench-${id}-egress`,
      image: proxyImage.imageId,
      ...hardening(uid + 1),
      memory: 128,
      tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=16m", "/run/squid": "rw,noexec,nosuid,nodev,size=4m" },
      networksAdvanced: [{ name: net.name, ipv4Address: ip(slot, 4) }, { name: egress.name }],
      envs: [`OCTW_SQUID_CONFIG_B64=${SQUID_B64}`],
      healthcheck: { tests: ["CMD", "/usr/sbin/squid", "-k", "check"] },
      labels: [{ label: "octw.tenant", value: id }],
    });
    const image = new docker.RemoteImage(`bench-${id}-image`, { name: IMAGES.openclaw, keepLocally: true });
    const volume = new docker.Volume(`bench-${id}-state`, { name: `bench-${id}-state` });
    const token = new random.RandomPassword(`bench-${id}-router-token`, { length: 48, special: false });
    const init = new docker.Container(`bench-${id}-state-init`, {
      name: `bench-${id}-state-init`,
      image: image.imageId,
      user: "0:0",
      networkMode: "none",
      capabilities: { drops: ["ALL"], adds: ["CHOWN", "FOWNER"] },
      mounts: [{ type: "volume", source: volume.name, target: "/state" }],
      uploads: [
        { file: "/state/openclaw.json", content: `{"gateway":{"trustedProxies":["${ip(slot, 2)}"]}}`, permissions: "0400" },
        { file: "/state/.octw/router-token", content: token.result, permissions: "0400" },
      ],
      attach: true,
      mustRun: false,
    });
    new docker.Container(
      `bench-${id}-gateway`,
      {
        name: `bench-${id}-gateway`,
        image: image.imageId,
        hostname: `bench-${id}-gateway`,
        ...hardening(uid),
        memory: 1536,
        tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=512m" },
        networksAdvanced: [{ name: net.name, ipv4Address: ip(slot, 5) }],
        dns: ["127.0.0.1"],
        mounts: [{ type: "volume", source: volume.name, target: "/var/lib/openclaw" }],
        envs: [`HTTPS_PROXY=http://${ip(slot, 4)}:3128`],
        healthcheck: { tests: ["CMD", "/usr/local/bin/node", "-e", "fetch('http://127.0.0.1:18789/healthz')"] },
        labels: [{ label: "octw.tenant", value: id }],
      },
      { dependsOn: [init] },
    );
    // The tenant's own audit reader: a login role in the reader group, bound to the tenant.
    const readerPw = new random.RandomPassword(`bench-${id}-reader-pw`, { length: 40, special: false });
    const reader = new postgresql.Role(`bench-${id}-reader`, { name: `bench_reader_${id}`, login: true, password: readerPw.result, inherit: true, roles: ["bench_audit_reader"] }, { provider });
    new AuditSql(
      `bench-${id}-reader-binding`,
      { host: "10.63.1.2", port: 5432, database: "octw_audit", user: "bench_audit_owner", password: superPw.result, sslMode: "disable", sql: `SELECT octw.bind_tenant_reader('bench_reader_${id}', '${id}');` },
      { dependsOn: [reader] },
    );
  }
}
