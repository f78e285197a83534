// The audit store's CA for the services that connect to it: with `sslMode: "verify-full"` (every
// multi-host platform) a service verifies the server against the CA the operator names, not
// against Node's bundled public roots — a private CA (the usual case for a database server) could
// not be verified otherwise. The CA file goes into the service's own state volume and its libpq
// URL names it (`sslrootcert`), so the CA is trusted for the audit connection only.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { presentInput } from "./common.js";

/** Where the CA goes in a service's state volume (relative to its state dir). */
export const AUDIT_CA_FILE = "config/audit-ca.pem";

/** A PEM certificate (the component args' check; the platform config has the same rule). */
export const auditCaCertificateSchema = z.string().includes("-----BEGIN CERTIFICATE-----", { message: "must be a PEM certificate (-----BEGIN CERTIFICATE-----)" });

/** A service's `auditCaCertificate` arg: the one declaration of its shape and documentation. */
export const auditCaCertificateArg = auditCaCertificateSchema.optional().meta({
  description:
    "PEM of the CA that issued the audit server's certificate: the service verifies the server\nagainst it (a file in its state volume, named by the URL's `sslrootcert`).",
  defaultText: "the URL's sslmode decides; verify-full then checks against Node's public roots",
});

/**
 * The service's audit URL and the files to deliver: without a CA the URL as given (the same input,
 * so nothing changes for a platform that names none), with one `sslrootcert` added.
 */
export function withAuditCa(url: pulumi.Input<string>, ca: string | undefined, stateDir: string): { url: pulumi.Input<string>; files: { path: string; content: string }[] } {
  if (ca === undefined) return { url, files: [] };
  const path = `${stateDir}/${AUDIT_CA_FILE}`;
  return {
    url: pulumi.secret(pulumi.output(url).apply((u) => `${u}${u.includes("?") ? "&" : "?"}sslrootcert=${encodeURIComponent(path)}`)),
    files: [{ path: AUDIT_CA_FILE, content: ca }],
  };
}

/**
 * A socket-holding service's `auditRouteNetworkName` arg (the waker, the egress-audit shipper):
 * their only network is the internal control network, which reaches the audit store only when the
 * store runs there. One declaration for both.
 */
export const auditRouteNetworkArg = presentInput<string>()
  .optional()
  .meta({
    description:
      "A network with a route off the host (the host's egress network: not internal, containers\non it isolated from each other), given only when the audit store is not on the control network\n(external, or embedded on another host): the service reaches the store through it.",
    defaultText: "none: the control network only (the store runs there)",
  });

/** The networks of a service on the control network that may need a route to the audit store. */
export function controlAndAuditRoute(controlNetworkName: pulumi.Input<string>, auditRouteNetworkName: pulumi.Input<string> | undefined): { name: pulumi.Input<string> }[] {
  return [{ name: controlNetworkName }, ...(auditRouteNetworkName !== undefined ? [{ name: auditRouteNetworkName }] : [])];
}
