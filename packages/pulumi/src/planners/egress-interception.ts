/**
 * Where a tenant's egress proxy keeps what TLS interception (L7 rules) needs, and the Squid
 * options that point at it. The CA's certificate and key arrive as 0400 files owned by the
 * proxy's UID on a volume of the proxy's own (SandboxPolicy), mounted read-only.
 */
import { X509Certificate } from "node:crypto";
import { z } from "zod";
import type { SquidTlsInterception } from "./squid-config.js";

/** The proxy's CA volume, mounted read-only. */
export const EGRESS_CA_DIR = "/etc/octw-egress";
const CA_CERT = "ca.pem";
const CA_KEY = "ca.key";
const UPSTREAM_CA = "upstream-ca.pem";
/** The credential include (squid-credentials.ts): SECRET, a 0400 file like the CA key. */
const CREDENTIALS = "credentials.conf";
export const EGRESS_CREDENTIALS_FILE = `${EGRESS_CA_DIR}/${CREDENTIALS}`;
export const EGRESS_CREDENTIALS_NAME = CREDENTIALS;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Operator-supplied trust anchors for intercepted upstreams: one PEM certificate each (never quoted back in errors). */
export const upstreamCaCertsSchema = z.array(
  z.string().refine((pem) => {
    const blocks = pem.match(PEM_CERT) ?? [];
    if (blocks.length !== 1 || pem.replace(PEM_CERT, "").trim() !== "") return false;
    try {
      new X509Certificate(blocks[0]);
      return true;
    } catch {
      return false;
    }
  }, "must be exactly one PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)"),
);

export interface EgressInterceptionPlan {
  /** Files on the CA volume, relative to its root; the upstream bundle only when extra anchors are given. */
  readonly files: { readonly caCert: string; readonly caKey: string; readonly upstreamCa?: { readonly path: string; readonly content: string } };
  readonly squid: SquidTlsInterception;
}

export function egressInterception(upstreamCaCerts: readonly string[]): EgressInterceptionPlan {
  const extra = upstreamCaCerts.length > 0;
  return {
    files: {
      caCert: CA_CERT,
      caKey: CA_KEY,
      ...(extra ? { upstreamCa: { path: UPSTREAM_CA, content: `${upstreamCaCerts.map((c) => c.trim()).join("\n")}\n` } } : {}),
    },
    squid: {
      caCertFile: `${EGRESS_CA_DIR}/${CA_CERT}`,
      caKeyFile: `${EGRESS_CA_DIR}/${CA_KEY}`,
      // A tmpfs of the proxy (SandboxPolicy declares /var/spool/squid): host certificates are
      // made again after a restart.
      certDbDir: "/var/spool/squid/ssl_db",
      ...(extra ? { upstreamCaFile: `${EGRESS_CA_DIR}/${UPSTREAM_CA}` } : {}),
    },
  };
}
