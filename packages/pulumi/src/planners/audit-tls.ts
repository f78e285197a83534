// The embedded audit store published to other hosts over TLS (docs/multi-host.md, "Audit across
// hosts"): the checks of the operator's certificate, CA and key, made at preview, and the
// store's pg_hba.conf. Pure functions, so every rule has a unit test.
import { createPublicKey, X509Certificate } from "node:crypto";
import { formatIpv4, parseIpv4Cidr } from "./network-plan.js";

/** One problem with a field path relative to where the caller names the fields. */
export interface TlsProblem {
  path: string;
  message: string;
}

/** Where the caller's fields are (the platform config and AuditStore name them differently). */
export interface TlsFieldPaths {
  caCertificate: string;
  certificate: string;
  address: string;
}

/**
 * The published address: an address of the store's host the operator names. Never the wildcard
 * (every interface of the host, bridges included) and never loopback (no other host reaches it).
 */
export function publishAddressProblem(address: string): string | undefined {
  if (address === "0.0.0.0") return "must be one address of the host, not 0.0.0.0 (every interface, the Docker bridges included)";
  if (address.startsWith("127.")) return "must be an address other hosts reach, not loopback";
  return undefined;
}

function parse(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/**
 * The server certificate the store presents: it parses, is valid now, was issued by (and is
 * signed by) the CA every client verifies against, names the published address in its
 * subjectAltName (verify-full checks exactly that), and the CA is a CA. Certificates are public:
 * messages may name their subjects; nothing here is secret.
 */
export function serverCertificateProblems(t: { caCertificate: string; certificate: string; address: string }, at: TlsFieldPaths, now = new Date()): TlsProblem[] {
  const ca = parse(t.caCertificate);
  const cert = parse(t.certificate);
  const problems: TlsProblem[] = [];
  if (!ca) problems.push({ path: at.caCertificate, message: "must be a PEM certificate that parses as X.509" });
  if (!cert) problems.push({ path: at.certificate, message: "must be a PEM certificate that parses as X.509" });
  if (!ca || !cert) return problems;
  if (!ca.ca) problems.push({ path: at.caCertificate, message: "must be a CA certificate (basicConstraints CA:TRUE): the clients verify the server against it" });
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    problems.push({ path: at.certificate, message: `must be issued and signed by ${at.caCertificate} (every client verifies the server against that CA)` });
  }
  if (new Date(cert.validTo) <= now || new Date(cert.validFrom) > now) problems.push({ path: at.certificate, message: `is not valid now (valid ${cert.validFrom} to ${cert.validTo})` });
  if (new Date(ca.validTo) <= now) problems.push({ path: at.caCertificate, message: `has expired (${ca.validTo})` });
  if (cert.checkIP(t.address) === undefined) {
    problems.push({ path: at.certificate, message: `must name ${at.address} in its subjectAltName (IP:${t.address}): clients connect with sslmode verify-full, which checks it` });
  }
  return problems;
}

/** Whether the private key belongs to the certificate. The message never repeats the key. */
export function serverKeyProblem(certificate: string, key: string): string | undefined {
  const cert = parse(certificate);
  if (!cert) return undefined; // the certificate's own problem is reported
  let pub: string;
  try {
    pub = createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
  } catch {
    return "must be a PEM private key (unencrypted: Postgres reads it at start without a passphrase)";
  }
  return pub === cert.publicKey.export({ type: "spki", format: "pem" }).toString() ? undefined : "is not the private key of the certificate";
}

/**
 * pg_hba.conf of a published store. First match wins:
 * - the bridge gateway of the control network without TLS: refused. Docker's userland proxy
 *   (and hairpin NAT) relays connections to the published port from that address, so it stands
 *   for "arrived through the published port", whoever sent it;
 * - the control network's own members (the store host's edge, router, waker, shipper): as
 *   before, scram-sha-256 over the internal bridge, with or without TLS;
 * - everyone else (other hosts, the program): TLS only (`hostssl`); no line matches a plaintext
 *   login from anywhere else, so Postgres refuses it ("no pg_hba.conf entry … no encryption").
 */
export function publishedStoreHba(controlSubnet: string): string {
  const c = parseIpv4Cidr(controlSubnet);
  if (!c) throw new RangeError("controlSubnet: must be an IPv4 CIDR");
  // Docker gives a network created without an explicit gateway the subnet's first address.
  const gateway = formatIpv4(c.base + 1);
  return [
    "# written by OCTW's AuditStore (published over TLS); first match wins",
    "local all all scram-sha-256",
    `hostnossl all all ${gateway}/32 reject`,
    `host all all ${controlSubnet} scram-sha-256`,
    "hostssl all all 0.0.0.0/0 scram-sha-256",
    "",
  ].join("\n");
}
