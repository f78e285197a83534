/**
 * The platform of the per-host layout: ONE config, imported by every stack of this project (the
 * shared one and each host's), so they all plan the same placement, slots and names. Edit it here
 * and review it in the pull request; a tenant change then touches the stack of the tenant's host.
 *
 * Secrets are not in this file: each stack supplies what it holds — the shared stack the audit
 * admin password (`octw:auditAdminPassword`), a host's stack its engine's client key
 * (`octw:hostTlsKey`). `keyOf` gives every host's key: its own for the stack of that host, a marker
 * for the others (their providers are declared by their own stacks, never here).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { OpenClawPlatformArgs } from "@octw/pulumi";

/** From the environment: pinned image ids (as the local stack's `env:` references), the engines' CA and client certificate (PEM; not secret). */
function env(name: string): string {
  const v = process.env[name];
  // the name, not the value: a misplaced value is never echoed
  if (v === undefined || v === "") throw new Error(`${name} is not set (see README "Past one host")`);
  return v;
}

export function platformConfig(keyOf: (host: string) => pulumi.Input<string>, adminPassword: pulumi.Input<string>): OpenClawPlatformArgs {
  return {
    prefix: "octw",
    domain: "agents.example.com",
    images: {
      openclaw: env("OCTW_IMAGE_OPENCLAW"),
      egressProxy: env("OCTW_IMAGE_EGRESS"),
      edge: env("OCTW_IMAGE_EDGE"),
    },
    edge: {
      hostIp: "0.0.0.0",
      jwt: { issuer: "https://id.example.com", audience: "octw-edge", algorithms: ["ES256"], jwksUrl: "https://id.example.com/.well-known/jwks.json" },
    },
    hosts: [
      // the first host is the home of unpinned tenants: keep it first
      { name: "home", endpoint: "tcp://10.0.0.11:2376", tls: { ca: env("OCTW_ENGINE_CA"), cert: env("OCTW_ENGINE_CERT"), key: keyOf("home") }, publicAddress: "home.edge.example.com", capacity: { hostMemoryMb: 65_536, maxActive: 40 } },
      { name: "b", endpoint: "tcp://10.0.0.12:2376", tls: { ca: env("OCTW_ENGINE_CA"), cert: env("OCTW_ENGINE_CERT"), key: keyOf("b") }, publicAddress: "b.edge.example.com", capacity: { hostMemoryMb: 65_536, maxActive: 40 } },
    ],
    tenants: [
      { id: "alpha", slot: 1, presets: ["restricted", "github"] },
      { id: "bravo", slot: 2, host: "b", presets: ["restricted"] },
    ],
    // more than one host: an external store, verified TLS (docs/multi-host.md)
    audit: { mode: "external", host: "10.0.0.20", adminUser: "octw_admin", adminPassword, sslMode: "verify-full" },
  };
}
