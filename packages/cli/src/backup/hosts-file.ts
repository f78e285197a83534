// Which engines the CLI may reach, by the host names of the platform config. A JSON file the
// operator names (--hosts or $OCTW_HOSTS_FILE) holding endpoints and the *paths* of the TLS
// material (the client key is root on that host: it stays in its own file, never in argv or
// in this file). Without a file: one host, "local", the engine of DOCKER_HOST (else the
// default socket), as pulumi-docker's default provider.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { Engine } from "./engine";

export const HOSTS_FILE_ENV = "OCTW_HOSTS_FILE";

const hostSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "must be a host name of the platform config (a-z, 0-9, -)"),
  endpoint: z.string().regex(/^(unix:\/\/\/|tcp:\/\/|ssh:\/\/)/, "must be unix:///path, tcp://address:port or ssh://user@host[:port]"),
  tls: z.strictObject({ caFile: z.string().min(1), certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  /** ssh client options for an ssh:// endpoint (the key file, known hosts: the client's own files). */
  sshOpts: z.array(z.string().min(1)).max(32).optional(),
});
const fileSchema = z.strictObject({ hosts: z.array(hostSchema).min(1) });

export function loadHosts(file: string | undefined): Map<string, Engine> {
  const path = file ?? process.env[HOSTS_FILE_ENV];
  const out = new Map<string, Engine>();
  if (!path) {
    out.set("local", new Engine({ name: "local", url: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock" }));
    return out;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new Error("--hosts: cannot read the hosts file as JSON");
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    // field paths and rules only: an endpoint may carry a credential
    const i = parsed.error.issues[0]!;
    const path = i.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("").replace(/^\./, "");
    throw new Error(`--hosts: ${path || "(file)"}: ${i.message}`);
  }
  for (const [i, h] of parsed.data.hosts.entries()) {
    if (out.has(h.name)) throw new Error(`--hosts: hosts[${i}].name: is used twice`);
    if (h.endpoint.startsWith("tcp://") && !h.tls) throw new Error(`--hosts: hosts[${i}].tls: is required for a tcp:// endpoint (no plaintext engine API)`);
    if (h.tls && !h.endpoint.startsWith("tcp://")) throw new Error(`--hosts: hosts[${i}].tls: applies to a tcp:// endpoint only`);
    if (h.sshOpts && !h.endpoint.startsWith("ssh://")) throw new Error(`--hosts: hosts[${i}].sshOpts: applies to an ssh:// endpoint only`);
    const tls = h.tls ? { ca: readFileSync(h.tls.caFile, "utf8"), cert: readFileSync(h.tls.certFile, "utf8"), key: readFileSync(h.tls.keyFile, "utf8") } : undefined;
    try {
      out.set(h.name, new Engine({ name: h.name, url: h.endpoint, ...(tls ? { tls } : {}), ...(h.sshOpts ? { sshOpts: h.sshOpts } : {}) }));
    } catch (err) {
      throw new Error(`--hosts: hosts[${i}].endpoint: ${(err as Error).message.replace(/^host [^:]+: /, "")}`);
    }
  }
  return out;
}

export function hostEngine(hosts: Map<string, Engine>, name: string, flag: string): Engine {
  const e = hosts.get(name);
  if (!e) throw new Error(`${flag}: must be one of the hosts of the hosts file (${[...hosts.keys()].join(", ")})`);
  return e;
}
