// A CA certificate the operator hands over as PEM text (e.g. the CA of an IdP behind the
// organization's own CA). Node skips what it cannot parse in NODE_EXTRA_CA_CERTS with a mere
// warning, so the text is checked here, before anything is deployed.
import { X509Certificate } from "node:crypto";
import { z } from "zod";

const BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** One or more PEM certificates, each parsed (an unparsable one is refused, not silently ignored by Node). */
export const idpCaCertificateSchema = z.string().max(65_536).superRefine((pem, ctx) => {
  const blocks = pem.match(BLOCK) ?? [];
  const outside = pem.replace(BLOCK, "").trim();
  let parsed = blocks.length > 0 && outside === "";
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch {
      parsed = false;
    }
  }
  if (!parsed) ctx.addIssue({ code: "custom", message: "must be PEM certificates only (-----BEGIN CERTIFICATE----- blocks that parse as X.509)" });
});

