// An audit server as a multi-host platform meets it: Postgres (the suite's own image) serving TLS
// only (`hostssl` lines, no `host` line: a plaintext login is refused) with a certificate for one
// address, issued by a CA the test generates. It runs on the first engine with the host's
// network, bound to that one address (e.g. the first machine's side of the second engine's veth
// pair), so both engines' services reach it the way they would reach an external server, and the
// program verifies it with PGSSLROOTCERT (libpq's way). Everything is named after the run id.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import type Dockerode from "dockerode";
import { RUN_LABEL } from "./docker-resources";
import { tarArchive } from "./tar-archive";

export interface TlsPostgres {
  address: string;
  port: number;
  adminUser: string;
  adminPassword: string;
  /** PEM of the CA that issued the server's certificate */
  ca: string;
  /** the same CA as a file (PGSSLROOTCERT) */
  caFile: string;
  /** a client as the superuser, TLS verified (verify-full) */
  connect(database?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

const PG_UID = 5432;

function certs(dir: string, address: string): void {
  const o = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  o(["req", "-x509", ...ec, "-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.pem`, "-days", "1", "-subj", "/CN=octw-test-audit-ca"]);
  o(["req", ...ec, "-keyout", `${dir}/server.key`, "-out", `${dir}/server.csr`, "-subj", "/CN=octw-test-audit"]);
  execFileSync("sh", ["-c", `printf 'subjectAltName=IP:%s\\nextendedKeyUsage=serverAuth\\n' "$1" > "$2"`, "ext", address, `${dir}/server.ext`]);
  o(["x509", "-req", "-in", `${dir}/server.csr`, "-CA", `${dir}/ca.pem`, "-CAkey", `${dir}/ca.key`, "-CAcreateserial", "-out", `${dir}/server.pem`, "-days", "1", "-extfile", `${dir}/server.ext`]);
}

export async function startTlsPostgres(docker: Dockerode, o: { runId: string; image: string; address: string; port: number; timeoutMs?: number }): Promise<TlsPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "octw-audit-tls-"));
  const name = `${o.runId}-audit-tls-pg`;
  let container: Dockerode.Container | undefined;
  const stop = async () => {
    await container?.remove({ force: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    certs(dir, o.address);
    const adminPassword = randomBytes(18).toString("hex");
    const file = (n: string, content: Buffer | string, mode = 0o600) => ({ name: `octw-tls/${n}`, content: Buffer.from(content), mode, uid: PG_UID, gid: PG_UID });
    const script = [
      "set -eu",
      "D=/tmp/pgdata",
      "initdb -D $D -U postgres --pwfile=/tmp/octw-tls/pw --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null",
      // TLS only: no `host` line, so a login without TLS finds no entry
      "printf 'local all all trust\\nhostssl all all 0.0.0.0/0 scram-sha-256\\n' > $D/pg_hba.conf",
      `exec postgres -D $D -c listen_addresses=${o.address} -c port=${o.port} -c ssl=on -c ssl_cert_file=/tmp/octw-tls/server.pem -c ssl_key_file=/tmp/octw-tls/server.key -c unix_socket_directories=/tmp -c password_encryption=scram-sha-256`,
    ].join("\n");
    container = await docker.createContainer({
      name,
      Image: o.image,
      User: `${PG_UID}:${PG_UID}`,
      Entrypoint: ["/bin/sh", "-c", script],
      Cmd: [],
      Labels: { [RUN_LABEL]: o.runId, "octw.test": "audit-tls-postgres" },
      HostConfig: { NetworkMode: "host", ShmSize: 128 * 1024 * 1024 },
    });
    await container.putArchive(
      tarArchive([file("server.pem", readFileSync(`${dir}/server.pem`), 0o644), file("server.key", readFileSync(`${dir}/server.key`)), file("pw", adminPassword)]),
      { path: "/tmp" },
    );
    await container.start();
    const ca = readFileSync(`${dir}/ca.pem`, "utf8");
    const connect = async (database = "postgres") => {
      const c = new pg.Client({ host: o.address, port: o.port, user: "postgres", password: adminPassword, database, ssl: { ca, rejectUnauthorized: true }, connectionTimeoutMillis: 5_000 });
      await c.connect();
      return c;
    };
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    for (;;) {
      try {
        await (await connect()).end();
        break;
      } catch (e) {
        const state = (await container.inspect()).State;
        if (!state.Running || Date.now() > deadline) {
          const logs = (await container.logs({ stdout: true, stderr: true, tail: 30 })).toString("utf8");
          throw new Error(`the TLS audit server did not come up: ${String(e)}; running: ${state.Running}; log: ${logs.slice(-1500)}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    return { address: o.address, port: o.port, adminUser: "postgres", adminPassword, ca, caFile: `${dir}/ca.pem`, connect, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
