// The waker's configuration (JSON file; nothing secret in it: the shared token and the audit
// database URL are read from the files it names).
import { z } from "zod";

export const WakerConfigSchema = z.strictObject({
  /** The engine's unix socket. */
  dockerSocket: z.string().startsWith("/", "must be an absolute path").default("/var/run/docker.sock"),
  /** This platform's prefix: only containers labelled `octw.platform=<platform>` are acted on. */
  platform: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "must be the platform prefix: a lower-case letter, then up to 30 of [a-z0-9-]"),
  listen: z
    .strictObject({
      host: z.ipv4().default("0.0.0.0"),
      port: z.number().int().min(1).max(65_535).default(8790),
    })
    .prefault({}),
  /** File holding the shared bearer token the edge presents (mode 0400). */
  tokenFile: z.string().startsWith("/", "must be an absolute path").default("/var/lib/octw-waker/secrets/waker-token"),
  /** A wake that has not reached the wanted state by then fails (and answers 504). */
  wakeTimeoutMs: z.number().int().min(1_000).max(600_000).default(60_000),
  /** Grace period of `docker stop` before the engine kills the gateway. */
  stopGraceS: z.number().int().min(1).max(300).default(10),
  /** How often a waking container's state is read from the engine. */
  pollMs: z.number().int().min(20).max(5_000).default(100),
  /** Requests served at once; more are answered 503 with Retry-After. */
  maxInFlight: z.number().int().min(1).max(10_000).default(256),
  /** Scheduled jobs (src/jobs.ts, README "Scheduled jobs"): read from each gateway at suspend. */
  jobs: z
    .strictObject({
      /** Off: suspends ignore jobs (they run late or are skipped, as OpenClaw does after a stop). */
      enabled: z.boolean().default(true),
      /** Where the copied state database goes for the read (removed right after); on disk, not /tmp. */
      scratchDir: z.string().startsWith("/", "must be an absolute path").default("/var/lib/octw-waker/scratch"),
      /** A larger state database (or write-ahead log) is not read: the suspend goes ahead, audited as `jobs: unreadable`. */
      maxStateBytes: z.number().int().min(1_048_576).max(4_294_967_296).default(268_435_456),
      /** Fallback for a suspend request that names no horizon: a job due sooner keeps a stop at paused. */
      horizonS: z.number().int().min(0).max(604_800).default(600),
      /** Wake this long before a job from paused (a thaw takes milliseconds). */
      leadPausedMs: z.number().int().min(0).max(600_000).default(1_000),
      /**
       * Wake this long before a job from stopped: more than a cold start to ready (OpenClaw
       * reschedules, not runs, a job overdue at start). Measured: 52–60 s wall at load average 13
       * on 2 cores (bench/gateway-memory), ≈10 s on an idle core.
       */
      leadStoppedMs: z.number().int().min(1_000).max(3_600_000).default(120_000),
      /** A run or overdue time older than this is stale and ignored. */
      maxRunS: z.number().int().min(60).max(86_400).default(3_600),
      /** Jobs keep a tenant awake at most this long in a row. */
      maxHoldS: z.number().int().min(60).max(604_800).default(7_200),
      /**
       * The sandboxed reader that parses the (hostile) database: its own uid and gid, not in the
       * engine socket's group (src/jobs-sandbox.ts). The waker needs CAP_SETUID and CAP_SETGID
       * for it (components/waker.ts); without them every read fails and suspends go ahead as
       * asked (`jobs: unreadable`) — the file is never parsed in this process.
       */
      reader: z
        .strictObject({
          /** The reader's uid and gid: not the waker's, not in the engine socket's group. */
          uid: z.number().int().min(1, "must not be root").max(2 ** 31 - 2).default(10_006),
          gid: z.number().int().min(1, "must not be root").max(2 ** 31 - 2).default(10_006),
          /** util-linux setpriv and prlimit. */
          setpriv: z.string().startsWith("/", "must be an absolute path").default("/usr/bin/setpriv"),
          prlimit: z.string().startsWith("/", "must be an absolute path").default("/usr/bin/prlimit"),
          /** The node binary that runs the reader (type stripping: Node >= 22.18). */
          node: z.string().startsWith("/", "must be an absolute path").default(process.execPath),
          /**
           * The reader script (erasable TypeScript, node:sqlite only); default: this package's
           * jobs-reader.ts. Every path to it and to `node`
           * must be reachable by the reader's uid: in the image they are; a test whose checkout
           * sits in a private directory stages both (test/reader-runtime.ts).
           */
          script: z.string().startsWith("/", "must be an absolute path").optional(),
          /** A node start plus the read on a loaded host; then the reader is killed. */
          timeoutMs: z.number().int().min(1_000).max(300_000).default(20_000),
          /** V8 old-space bound of the reader, MiB. */
          heapMb: z.number().int().min(16).max(1_024).default(32),
          /** RLIMIT_CPU of the reader, seconds: a bound that holds even if the waker's timer does not fire. */
          cpuS: z.number().int().min(1).max(600).default(10),
          /** The reader's answer is refused above this. */
          maxOutputBytes: z.number().int().min(1_024).max(64 << 20).default(1 << 20),
        })
        .prefault({}),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** File holding the audit writer's Postgres URL (a secret: mode 0400). */
      connectionUrlFile: z.string().min(1).default("/var/lib/octw-waker/secrets/audit-db-url"),
      spoolPath: z.string().min(1).default("/var/lib/octw-waker/audit.spool"),
    })
    .prefault({}),
});

export type WakerConfig = z.output<typeof WakerConfigSchema>;

export function parseWakerConfig(input: unknown): WakerConfig {
  const r = WakerConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new Error(`invalid waker config:\n  ${lines.join("\n  ")}`);
  }
  return r.data;
}
