/**
 * The Squid directives that put a tenant's secrets into the requests of its credential-bound
 * endpoints (OpenShell's `credential_binding`), in place of the placeholders the gateway holds.
 *
 * Semantics (OpenShell's placeholder form `openshell:resolve:env:<KEY>`; the tenant secret of a
 * provider `P` and key `KEY` is the one named `P/KEY` in `tenant_secrets`):
 * - On a bound endpoint (its host and port, inside its intercepted tunnel), a request header from
 *   {@link CREDENTIAL_HEADERS} whose whole value is `<scheme><placeholder>` — `scheme` one of that
 *   header's {@link CREDENTIAL_HEADERS} schemes, `KEY` one of the provider's stored keys — leaves
 *   with `<scheme><secret>` instead (`request_header_access … deny` drops the gateway's header and
 *   `request_header_add` adds the real one; both are decided on the request as the gateway sent it).
 * - Only into requests forwarded over TLS (`proto HTTPS`: an intercepted tunnel's, or an https://
 *   URL the proxy fetches itself); a placeholder in plain HTTP is refused, never resolved in clear.
 * - Fail closed: a request to a bound endpoint is refused (403) when one of those headers carries
 *   a placeholder in any other shape or for a key that has no usable secret, when its URL carries
 *   one (OpenShell resolves URL placeholders; the proxy does not, and would otherwise forward the
 *   marker), and — every request — when the provider has no usable secret at all.
 * - Placeholders anywhere else (another header, the body, WebSocket messages) are not replaced:
 *   they leave as placeholders, which carry no secret.
 * - Nothing of another endpoint or tenant: the directives of a binding name its own host and port,
 *   and the secrets given are those of its provider only.
 *
 * The output holds secrets: it is written only as a 0400 file of the proxy's (SandboxPolicy) and
 * is never logged, put in an environment or an unmarked output. Every value that lands in it is
 * either a constant, validated by a pattern, or (a secret) checked by {@link secretValueProblem}:
 * a value Squid's configuration could not carry literally is refused, never escaped.
 */
import { hostPatternRegex, type EgressRule } from "@octw/contracts";

/** OpenShell's canonical placeholder prefix (`openshell:resolve:env:KEY`). */
export const CREDENTIAL_PLACEHOLDER_PREFIX = "openshell:resolve:env:";

/**
 * Headers the proxy replaces placeholders in, with the value shapes it recognizes: the scheme
 * before the placeholder (`""`: the placeholder is the whole value).
 */
export const CREDENTIAL_HEADERS: readonly { readonly name: string; readonly schemes: readonly string[] }[] = [
  { name: "Authorization", schemes: ["Bearer ", "token ", "Bot ", ""] },
  { name: "X-Api-Key", schemes: [""] },
  { name: "Api-Key", schemes: [""] },
  { name: "X-Auth-Token", schemes: [""] },
  { name: "Private-Token", schemes: [""] },
  { name: "X-Goog-Api-Key", schemes: [""] },
];

/** A provider key as OpenShell names it: an environment variable name. */
export const CREDENTIAL_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Longest secret value the proxy's configuration carries (Squid reads a line into an 8 KiB buffer). */
export const MAX_CREDENTIAL_VALUE_LENGTH = 4096;

/**
 * Why a secret value cannot be written into Squid's configuration, or undefined when it can. The
 * value goes inside a quoted `request_header_add` value, where Squid processes `\` escapes and
 * `%` format codes and a line ends the directive: so only visible ASCII without `"`, `\`, `%`
 * and `#` is carried, as it is. Never names the value.
 */
export function secretValueProblem(value: string): string | undefined {
  if (value.length === 0) return "is empty";
  if (value.length > MAX_CREDENTIAL_VALUE_LENGTH) return `is longer than ${MAX_CREDENTIAL_VALUE_LENGTH} characters`;
  // 0x21-0x7E without " (0x22), # (0x23), % (0x25) and \ (0x5C).
  if (!/^[!$&-[\]-~]+$/.test(value)) {
    return 'has characters a header value cannot carry through the proxy: only visible ASCII without space, ", \\, % and # is accepted';
  }
  return undefined;
}

export interface CredentialBindingSecrets {
  /** Index of the rule in the enforced egress list (the same rules renderSquidConfig gets). */
  readonly rule: number;
  /** The provider's stored secrets by KEY (already decrypted; only this tenant's, only this provider's). */
  readonly secrets: Readonly<Record<string, string>>;
}

export interface CredentialIncludePlan {
  /** The include file: SECRET. */
  readonly text: string;
  /** Per binding (`<provider>`), the keys whose placeholders are replaced: names only, never values. */
  readonly injected: Readonly<Record<string, readonly string[]>>;
  /** `<provider>/<KEY>: why` for stored secrets that are not used (fail closed for their placeholders). */
  readonly unusable: readonly string[];
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A Squid regex token (split on whitespace) matching `s` exactly: spaces as `[[:blank:]]`. */
const regexWord = (s: string) => escapeRegex(s).replace(/ /g, "[[:blank:]]");

/**
 * The include for the tenant's bound endpoints. `rules` are the enforced egress rules (their
 * `credentials` name the provider); `bound` gives each bound rule its provider's secrets. A bound
 * rule missing from `bound` gets none: every request to it is refused.
 */
export function renderCredentialInclude(rules: readonly EgressRule[], bound: readonly CredentialBindingSecrets[]): CredentialIncludePlan {
  const lines: string[] = ["# OCTW: credentials of the tenant's bound endpoints - generated, SECRET, do not edit."];
  const injected: Record<string, string[]> = {};
  const unusable: string[] = [];
  // The URL form of the marker, as sent or percent-encoded (`:` as %3A).
  lines.push(`acl octw_cred_url_marker url_regex -i openshell(:|%3a)resolve(:|%3a)env(:|%3a)`);
  // Secrets go only into requests the proxy forwards over TLS (an intercepted tunnel's, or an
  // https:// URL): never into plain HTTP, where they would leave in clear.
  lines.push("acl octw_cred_tls proto HTTPS");
  rules.forEach((rule, i) => {
    if (!rule.credentials) return;
    if (!rule.l7 || rule.host === undefined) throw new Error(`renderCredentialInclude: rule ${i} has credentials but is not intercepted by name`);
    const ruleHost = rule.host;
    const provider = rule.credentials.provider;
    const given = bound.find((b) => b.rule === i)?.secrets ?? {};
    const usable: [string, string][] = [];
    for (const [key, value] of Object.entries(given).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const problem = !CREDENTIAL_KEY_PATTERN.test(key) ? "is not a key name (letters, digits and _, not starting with a digit)" : secretValueProblem(value);
      // A key name that is not a pattern match is not echoed either: it came from the store.
      if (problem) unusable.push(`${provider}/${CREDENTIAL_KEY_PATTERN.test(key) ? key : "<unusable name>"}: ${problem}`);
      else usable.push([key, value]);
    }
    const ep = `octw_cred${i}`;
    const host = hostPatternRegex(ruleHost);
    lines.push("", `# binding ${i}: ${ruleHost}:${rule.ports.join(",")} (${usable.length} key${usable.length === 1 ? "" : "s"})`);
    lines.push(host === undefined ? `acl ${ep}_host dstdomain -n ${ruleHost}` : `acl ${ep}_host dstdom_regex -n -i ${host}`);
    lines.push(`acl ${ep}_port port ${rule.ports.join(" ")}`);
    const scope = `!CONNECT ${ep}_host ${ep}_port`;
    const tlsScope = `${scope} octw_cred_tls`;
    if (usable.length === 0) {
      // Fail closed: the provider has no secret the proxy could put in.
      lines.push(`http_access deny ${scope}`);
      injected[provider] = [];
      return;
    }
    lines.push(`http_access deny ${scope} octw_cred_url_marker`);
    CREDENTIAL_HEADERS.forEach((header, h) => {
      const marker = `${ep}_h${h}_marker`;
      lines.push(`acl ${marker} req_header ${header.name} -i ${regexWord(CREDENTIAL_PLACEHOLDER_PREFIX)}`);
      const forms: string[] = [];
      usable.forEach(([key, value], k) => {
        header.schemes.forEach((scheme, s) => {
          const form = `${ep}_h${h}_k${k}_s${s}`;
          forms.push(form);
          lines.push(`acl ${form} req_header ${header.name} ^${regexWord(`${scheme}${CREDENTIAL_PLACEHOLDER_PREFIX}${key}`)}$`);
          lines.push(`request_header_access ${header.name} deny ${tlsScope} ${form}`);
          lines.push(`request_header_add ${header.name} "${scheme}${value}" ${tlsScope} ${form}`);
        });
      });
      // A placeholder in this header that is none of the forms above (unknown key, other shape, repeated header): refused.
      lines.push(`http_access deny ${scope} ${marker} ${forms.map((f) => `!${f}`).join(" ")}`);
      // Any placeholder in plain HTTP (which gets no secret): refused.
      lines.push(`http_access deny ${scope} !octw_cred_tls ${marker}`);
    });
    injected[provider] = usable.map(([key]) => key);
  });
  // Two bindings whose endpoints both match one request would both put their secrets in: refused.
  const boundIdx = rules.flatMap((r, i) => (r.credentials ? [i] : []));
  const pairs = boundIdx.flatMap((a, x) => boundIdx.slice(x + 1).map((b) => [a, b] as const));
  if (pairs.length) lines.push("");
  for (const [a, b] of pairs) lines.push(`http_access deny !CONNECT octw_cred${a}_host octw_cred${a}_port octw_cred${b}_host octw_cred${b}_port`);
  lines.push("");
  return { text: lines.join("\n"), injected, unusable };
}
