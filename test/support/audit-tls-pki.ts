// Test certificates for a published audit store: a CA, a server certificate for one IP address
// issued by it, the server's key, and an unrelated second CA (the "wrong CA" of the probes and
// the refusal tests). Made with the openssl CLI (EC P-256: fast), in a temporary directory that is
// removed before returning: only the PEM texts leave.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface AuditTlsPki {
  ca: string;
  cert: string;
  key: string;
  /** Another CA with its own server certificate and key for the same address. */
  otherCa: string;
  otherCert: string;
  otherKey: string;
}

export function makeAuditTlsPki(address: string, days = 2): AuditTlsPki {
  const dir = mkdtempSync(join(tmpdir(), "octw-audit-pki-"));
  try {
    const o = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    writeFileSync(join(dir, "server.ext"), `subjectAltName=IP:${address}\nextendedKeyUsage=serverAuth\n`);
    const issue = (n: string) => {
      o(["req", "-x509", ...ec, "-keyout", join(dir, `${n}-ca.key`), "-out", join(dir, `${n}-ca.pem`), "-days", String(days), "-subj", `/CN=octw-test-audit-${n}-ca`]);
      o(["req", ...ec, "-keyout", join(dir, `${n}.key`), "-out", join(dir, `${n}.csr`), "-subj", "/CN=octw-test-audit"]);
      o(["x509", "-req", "-in", join(dir, `${n}.csr`), "-CA", join(dir, `${n}-ca.pem`), "-CAkey", join(dir, `${n}-ca.key`), "-CAcreateserial", "-out", join(dir, `${n}.pem`), "-days", String(days), "-extfile", join(dir, "server.ext")]);
      return { ca: readFileSync(join(dir, `${n}-ca.pem`), "utf8"), cert: readFileSync(join(dir, `${n}.pem`), "utf8"), key: readFileSync(join(dir, `${n}.key`), "utf8") };
    };
    const a = issue("a");
    const b = issue("b");
    return { ...a, otherCa: b.ca, otherCert: b.cert, otherKey: b.key };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
