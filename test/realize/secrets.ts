// Secret envelopes as the Pulumi mock monitor hands them to `newResource`: a secret input
// arrives as `{ [SECRET_SIG_KEY]: SECRET_SIG_VALUE, value }` (an array with one secret element is
// wrapped as a whole). The realizing mock must apply the plain value, and must remember which
// input paths were secret so tests can assert that a password reached a resource only as a secret.

export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretEnvelope(v: unknown): v is { value: unknown } {
  return (
    typeof v === "object" &&
    v !== null &&
    (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG_VALUE
  );
}

export function wrapSecret(value: unknown): Record<string, unknown> {
  return { [SECRET_SIG_KEY]: SECRET_SIG_VALUE, value };
}

/** Removes every secret envelope; `secretPaths` gets the dotted path of each one ("envs", "uploads.0.content"). */
export function unwrapSecrets(v: unknown, secretPaths: string[] = [], path = ""): unknown {
  if (isSecretEnvelope(v)) {
    secretPaths.push(path);
    return unwrapSecrets(v.value, secretPaths, path);
  }
  if (Array.isArray(v)) return v.map((x, i) => unwrapSecrets(x, secretPaths, path ? `${path}.${i}` : String(i)));
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = unwrapSecrets(x, secretPaths, path ? `${path}.${k}` : k);
    return out;
  }
  return v;
}
