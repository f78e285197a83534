// The audit store's CA for the services that connect to it: with `sslMode: "verify-full"` (every
// multi-host platform) a service verifies the server against the CA the operator names, not
// against Node's bundled public roots — a private CA (the usual case for a database server) could
// not be verified otherwise. The CA file goes into the service's own state volume and its libpq
// URL names it (`sslrootcert`), so the CA is trusted for the audit connection only.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

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
