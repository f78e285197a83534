/**
 * Every field of the platform schema, walked from the schema itself (so a field added later is
 * covered without touching this file): given a value of the wrong kind, OpenClawPlatform throws
 * an OctwConfigError naming exactly that field's path, and registers no resource.
 */
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OctwConfigError, OpenClawPlatform, platformConfigSchema, type OpenClawPlatformArgs } from "../src/index.js";
import { MockRecorder, PINNED, settle } from "./harness.js";
import { CA_1 } from "./test-ca-certificates.js";
import { makeAuditTlsPki } from "../../../test/support/audit-tls-pki.js";

const recorder = new MockRecorder();
beforeAll(async () => {
  await pulumi.runtime.setMocks(recorder.mocks, "octw", "test", false);
});
beforeEach(async () => {
  await settle();
  recorder.reset();
});

const EC_PUBLIC = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" };
const pinned = (c: string) => `sha256:${c.repeat(64)}`;
/** A public test certificate (EC P-256, self-signed, no key kept): an upstream trust anchor. */
const UPSTREAM_CA = `-----BEGIN CERTIFICATE-----
MIIBlTCCATugAwIBAgIUFB8VJyf5wDLVwKbgedQ43IWm5vgwCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVb2N0dy10ZXN0LXVwc3RyZWFtLWNhMB4XDTI2MTEzMDE1NTkz
OVoXDTM2MTEyNzE1NTkzOVowIDEeMBwGA1UEAwwVb2N0dy10ZXN0LXVwc3RyZWFt
LWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPCbP/WbLUzcPvl0SpkBp3jSe
BGGyRl5se7K3pZ5hPdgD73zlCsmnh+UhVWsqoshwHElb/SOIWT5naGNTaeBXwKNT
MFEwHQYDVR0OBBYEFH18290Cyyzwi6qbGuVg2yxksOkaMB8GA1UdIwQYMBaAFH18
290Cyyzwi6qbGuVg2yxksOkaMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
SAAwRQIhAN3+3hAGjQuUZ+xYHeTeL9cXO1OyZDLhJh2oBpRA68MeAiAC64Puze0I
6G0FuoEDgERuPbnVkMi4aPKea/v+6Ly53A==
-----END CERTIFICATE-----`;

/** The published embedded store's certificate (audit.publish), issued for its address. */
const AUDIT_PKI = makeAuditTlsPki("192.0.2.30");

/**
 * A valid config in which every optional section is present, so every field has a place. The
 * audit store is the embedded one published over TLS (audit.publish); the external server's
 * fields are present too (mode embedded ignores them), so each has a place.
 */
function maximal(): Record<string, unknown> {
  return {
    prefix: "octwtest",
    domain: "agents.example.com",
    addressPool: "10.64.0.0/10",
    egressSubnet: "10.63.0.0/24",
    controlSubnet: "10.63.1.0/28",
    ingressSubnet: "10.63.2.0/28",
    inferenceRouter: {},
    egressProxy: { upstreamCaCerts: [UPSTREAM_CA] },
    egressAudit: { dockerSocketGid: 998, dockerSocketPath: "/var/run/docker.sock", windowMs: 60_000 },
    waker: { dockerSocketGid: 998, dockerSocketPath: "/var/run/docker.sock", wakeTimeoutMs: 60_000 },
    edge: {
      hostPort: 8443,
      hostIp: "127.0.0.1",
      hostRouting: true,
      cpus: 2,
      jwt: { issuer: "https://idp.example.com", audience: "octw", algorithms: ["ES256"], jwks: [EC_PUBLIC], tenantClaim: "tenant", roleClaim: "role" },
      roles: { member: ["operator.read", "operator.write"] },
      oidc: {
        issuer: "https://idp.example.com",
        clientId: "octw-edge",
        clientSecret: "c".repeat(40),
        sessionKey: "s".repeat(48),
        tenantRoles: { alpha: { member: ["eng"] } },
        groupsClaim: "groups",
        scopes: ["openid", "profile"],
        prompt: "login",
        sessionMaxS: 28_800,
        recheckS: 300,
        idpHosts: [{ host: "idp.example.com", ip: "192.0.2.10" }],
        idpCaCertificate: CA_1,
      },
    },
    uidBase: 200_000,
    images: { ...PINNED, edge: pinned("d"), inferenceRouter: pinned("e"), egressAudit: pinned("f"), waker: pinned("9"), allowUnpinned: false },
    defaults: { limits: { memoryMb: 1536, cpus: 1, nproc: 512, nofile: 8192 }, presets: ["restricted"] },
    suspend: { pauseAfterS: 60, stopAfterS: 600 },
    heartbeatEveryS: 0,
    capacity: { hostMemoryMb: 24_576, maxActive: 10, residentMbPerTenant: 720, reservedMb: 1024 },
    tenants: [
      {
        id: "alpha",
        slot: 1,
        presets: ["restricted"],
        policy: { version: 1 },
        allowUnenforced: ["rules"],
        limits: { memoryMb: 1536, cpus: 1, nproc: 512, nofile: 8192 },
        image: pinned("a"),
        runtime: "runc",
        suspend: "alwaysOn",
        heartbeatEveryS: 3600,
        host: "b",
      },
    ],
    // Two hosts, so that every host field has a place (tls needs tcp://, sshOpts ssh://); more than
    // one host needs the external audit store, verified.
    hosts: [
      { name: "a", endpoint: "tcp://192.0.2.20:2376", tls: { ca: "ca-pem", cert: "cert-pem", key: "key-pem" }, capacity: { hostMemoryMb: 24_576, maxActive: 10, residentMbPerTenant: 720, reservedMb: 1024 } },
      { name: "b", endpoint: "ssh://octw@192.0.2.21:22", sshOpts: ["-o", "StrictHostKeyChecking=yes"], publicAddress: "b.agents.example.com", dockerSocketGid: 997, dockerSocketPath: "/run/docker-b.sock" },
    ],
    audit: {
      mode: "embedded", host: "audit.example.com", port: 5432, adminUser: "octw_admin", adminPassword: "p".repeat(24),
      sslMode: "verify-full", caCertificate: AUDIT_PKI.ca, databaseName: "octw_audit", masterKey: "k".repeat(44),
      publish: { host: "b", address: "192.0.2.30", port: 15432, certificate: AUDIT_PKI.cert, key: AUDIT_PKI.key },
    },
  };
}

interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  element?: { _zod: { def: Def } };
}
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

function unwrap(d: Def): Def {
  for (;;) {
    if (d.innerType && ["optional", "nullable", "default", "prefault", "readonly", "nonoptional"].includes(d.type)) d = defOf(d.innerType);
    else if (d.type === "pipe" && d.in) d = defOf(d.in);
    else return d;
  }
}

/** Every field path of the object schemas reachable through objects and arrays (first element). */
function fields(schema: z.ZodType, at: (string | number)[] = []): { path: (string | number)[]; kind: string }[] {
  const d = unwrap(defOf(schema));
  const out: { path: (string | number)[]; kind: string }[] = [];
  if (d.type === "object") {
    for (const [key, child] of Object.entries(d.shape!)) {
      const path = [...at, key];
      out.push({ path, kind: unwrap(child._zod.def).type });
      out.push(...fields(child as unknown as z.ZodType, path));
    }
  } else if (d.type === "array") {
    out.push(...fields(d.element as unknown as z.ZodType, [...at, 0]));
  }
  return out;
}

/** A value no field of this kind accepts. */
function wrongValueFor(kind: string): unknown {
  switch (kind) {
    case "string":
    case "enum":
    case "literal":
      return 12_345;
    case "number":
    case "int":
      return "not a number";
    case "boolean":
      return "yes";
    case "array":
    case "record":
    case "object":
      return 42;
    case "union":
      return 42;
    case "custom":
      return 42;
    case "unknown":
      return undefined; // accepts anything: not a field a wrong value can be given to
    default:
      return Symbol.for(kind);
  }
}

const render = (path: (string | number)[]) => path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${k}` : k), "");

function setAt(obj: Record<string, unknown>, path: (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(obj);
  let cur: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) cur = cur[key] as Record<string | number, unknown>;
  cur[path.at(-1)!] = value;
  return copy;
}

const FIELDS = fields(platformConfigSchema as unknown as z.ZodType).filter((f) => wrongValueFor(f.kind) !== undefined);

describe("every field of the platform schema", () => {
  it("the walk finds the fields (at least 60, among them deep ones)", () => {
    const paths = FIELDS.map((f) => render(f.path));
    expect(paths.length).toBeGreaterThanOrEqual(60);
    expect(paths).toEqual(expect.arrayContaining(["edge.jwt.jwks", "tenants[0].limits.nofile", "capacity.reservedMb", "audit.masterKey"]));
  });

  it("positive control: the maximal config itself is accepted and declares resources", async () => {
    new OpenClawPlatform("maximal", maximal() as unknown as OpenClawPlatformArgs);
    await settle();
    expect(recorder.resources.length).toBeGreaterThan(20);
  });

  it.each(FIELDS.map((f) => [render(f.path), f] as const))("%s: a wrong value is refused at that path, before anything is declared", async (path, f) => {
    const bad = setAt(maximal(), f.path, wrongValueFor(f.kind));
    let error: unknown;
    try {
      new OpenClawPlatform("bad", bad as unknown as OpenClawPlatformArgs);
    } catch (err) {
      error = err;
    }
    await settle();
    expect(error).toBeInstanceOf(OctwConfigError);
    const problems = (error as OctwConfigError).problems;
    expect(problems.map((p) => p.path), JSON.stringify(problems)).toContain(path);
    expect(recorder.resources).toEqual([]);
  });
});
