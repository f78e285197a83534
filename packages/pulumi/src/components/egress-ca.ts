import type * as nodeCrypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/**
 * A tenant's TLS interception CA: the certificate authority its egress proxy signs the
 * certificates of intercepted (L7) endpoints with. Only that tenant's gateway trusts it; its key
 * is a Pulumi secret, delivered only into that tenant's proxy (SandboxPolicy, a 0400 file).
 *
 * Why a dynamic resource with node-forge (pinned):
 * - @pulumi/tls would need a provider plugin, which cannot be installed where the tests run, and
 *   the realizing mock (test/realize/) cannot apply a provider it does not model; a dynamic
 *   resource runs its own serialized code, which the realizing mock runs too — the same code a
 *   real `pulumi up` runs.
 * - Generating at program time would make a new CA on every run (and replace the tenant's proxy
 *   and gateway each time); a resource is created once and kept in the state.
 * - Node's crypto makes the key (OpenSSL) but cannot write an X.509 certificate. node-forge
 *   (no dependencies) only builds and signs the certificate; @peculiar/x509 was tried and needs a
 *   global `reflect-metadata` polyfill in the program, which a library must not impose.
 *
 * Rotation: the CA is replaced — new key, new certificate — when `tenantId`, `namePrefix` or
 * `validityDays` changes, or on `pulumi up --replace <this resource's URN>` (the way to rotate
 * it, e.g. before `notAfter`). A new CA replaces the tenant's egress proxy and its CA init
 * container (new key file) and the tenant's gateway and its state-init container (new trust file,
 * read once at start by node's NODE_EXTRA_CA_CERTS). Nothing of another tenant changes.
 */
export interface EgressCaArgs {
  tenantId: pulumi.Input<string>;
  namePrefix: pulumi.Input<string>;
  /**
   * Validity of the CA certificate, from its creation.
   * @default 1825 (five years; rotate with `pulumi up --replace` earlier)
   */
  validityDays?: pulumi.Input<number>;
}

interface CaInputs {
  tenantId: string;
  namePrefix: string;
  validityDays: number;
}

/** Outputs of the CA: `keyPem` is a secret output (`additionalSecretOutputs`). */
interface CaOutputs extends CaInputs {
  certPem: string;
  keyPem: string;
  /** ISO time after which nothing the proxy signs is trusted any more. */
  notAfter: string;
  /** SHA-256 of the certificate (DER), hex: changes exactly when the CA does. */
  sha256: string;
}

export const DEFAULT_EGRESS_CA_VALIDITY_DAYS = 1825;

// Dynamic providers are serialized into the state: everything is `require`d inside the
// function bodies (as ServiceConfigFile does).
declare const require: (id: string) => unknown;

/** The subset of node-forge this file uses (its own typings are not a dependency). */
interface Forge {
  pki: {
    createCertificate(): {
      publicKey: unknown;
      serialNumber: string;
      validity: { notBefore: Date; notAfter: Date };
      setSubject(a: { name: string; value: string }[]): void;
      setIssuer(a: { name: string; value: string }[]): void;
      setExtensions(e: Record<string, unknown>[]): void;
      sign(key: unknown, md: unknown): void;
    };
    publicKeyFromPem(pem: string): unknown;
    privateKeyFromPem(pem: string): unknown;
    certificateToPem(c: unknown): string;
  };
  md: { sha256: { create(): unknown } };
}

function makeCa(inputs: CaInputs): CaOutputs {
  const crypto = require("node:crypto") as typeof nodeCrypto;
  const forge = require("node-forge") as Forge;
  if (!Number.isInteger(inputs.validityDays) || inputs.validityDays < 1 || inputs.validityDays > 3650) {
    throw new Error("EgressCa: validityDays must be an integer from 1 to 3650");
  }
  // RSA 3072 (OpenSSL, through node): Squid signs the intercepted hosts' certificates with it,
  // and every TLS client accepts it.
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 3072 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  // Positive, 16 random bytes: unique per CA, as RFC 5280 asks.
  cert.serialNumber = `7f${crypto.randomBytes(15).toString("hex")}`;
  // Backdated an hour: a client whose clock is a little behind still accepts a fresh CA.
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + inputs.validityDays * 86_400_000);
  const name = [
    { name: "organizationName", value: "OCTW egress interception" },
    { name: "commonName", value: `${inputs.namePrefix} ${inputs.tenantId} egress CA` },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    // pathlen 0: it signs the proxy's host certificates and no other CA.
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const x = new crypto.X509Certificate(certPem);
  return { ...inputs, certPem, keyPem, notAfter: new Date(x.validTo).toISOString(), sha256: crypto.createHash("sha256").update(x.raw).digest("hex") };
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: CaInputs) {
    const outs = makeCa(inputs);
    return await Promise.resolve({ id: `${inputs.namePrefix}-${inputs.tenantId}-egress-ca-${outs.sha256.slice(0, 16)}`, outs });
  },
  diff(_id: string, olds: CaOutputs, news: CaInputs) {
    // Any change of what the CA was made for makes a new CA; nothing is updated in place.
    const replaces = (["tenantId", "namePrefix", "validityDays"] as const).filter((k) => olds[k] !== news[k]);
    return Promise.resolve({ changes: replaces.length > 0, replaces, deleteBeforeReplace: false });
  },
  // Nothing outside the state holds the CA: deleting it forgets it.
  async delete() {},
};

/** The dynamic resource itself; see {@link EgressCaArgs} for why and how it rotates. */
export class EgressCa extends pulumi.dynamic.Resource {
  declare readonly certPem: pulumi.Output<string>;
  declare readonly keyPem: pulumi.Output<string>;
  declare readonly notAfter: pulumi.Output<string>;
  declare readonly sha256: pulumi.Output<string>;

  constructor(name: string, args: EgressCaArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { tenantId: args.tenantId, namePrefix: args.namePrefix, validityDays: args.validityDays ?? DEFAULT_EGRESS_CA_VALIDITY_DAYS, certPem: undefined, keyPem: undefined, notAfter: undefined, sha256: undefined },
      // The key is encrypted in the state like every other secret of the stack.
      { ...opts, additionalSecretOutputs: ["keyPem"] },
    );
  }
}
