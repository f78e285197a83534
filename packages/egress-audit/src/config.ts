// The shipper's configuration (JSON file; nothing secret in it: the audit database URL is
// read from the file it names).
import { z } from "zod";

export const ShipperConfigSchema = z.strictObject({
  /** The engine's unix socket (mounted read-only into the shipper's container). */
  dockerSocket: z.string().min(1).default("/var/run/docker.sock"),
  /** Containers with this `octw.component` label are followed. */
  component: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "a lower-case label value").default("egress-proxy"),
  /**
   * Further labels a proxy container must carry (all of them), e.g. to follow only one
   * platform's proxies when several platforms or test runs share an engine.
   */
  labels: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, "a label key"), z.string().max(256)).default({}),
  /** Aggregation window: one event per destination per window. Multiple of 1000. */
  windowMs: z.number().int().min(1_000).max(3_600_000).refine((n) => n % 1_000 === 0, "must be a multiple of 1000").default(10_000),
  /** Lines may arrive this late and still count in their window. */
  graceMs: z.number().int().min(0).max(600_000).default(2_000),
  /** How often closed windows are recorded. */
  flushMs: z.number().int().min(100).max(60_000).default(1_000),
  /** How often the engine is asked for new or replaced proxies. */
  discoverMs: z.number().int().min(500).max(600_000).default(5_000),
  /** Distinct destinations per proxy, window and chunk: a full chunk is sealed and recorded, never folded. */
  maxGroups: z.number().int().min(1).max(100_000).default(1_000),
  /** Where each proxy's read position survives restarts (a volume). */
  checkpointPath: z.string().min(1).default("/var/lib/octw-egress-audit/checkpoints.json"),
  audit: z
    .strictObject({
      /** File holding the audit writer's Postgres URL (a secret: mode 0400). */
      connectionUrlFile: z.string().min(1).default("/run/secrets/octw-egress-audit/audit-db-url"),
      spoolPath: z.string().min(1).default("/var/lib/octw-egress-audit/audit.spool"),
    })
    .prefault({}),
});

export type ShipperConfig = z.output<typeof ShipperConfigSchema>;

export function parseShipperConfig(input: unknown): ShipperConfig {
  const r = ShipperConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new Error(`invalid egress-audit config:\n  ${lines.join("\n  ")}`);
  }
  return r.data;
}
