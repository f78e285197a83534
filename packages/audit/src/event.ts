import { randomUUID } from "node:crypto";
import { z } from "zod";

/** What a service hands to AuditClient.record(). */
export interface AuditEventInput {
  tenant: string;
  /** JWT `sub` of the user, or the component name (e.g. "edge", "inference-router"). */
  actor: string;
  /** Dotted verb: edge.auth.allowed, egress.denied, inference.call, secret.read, … */
  action: string;
  target?: string;
  decision?: string;
  details?: Record<string, unknown>;
  time?: Date | string;
  /** Makes the event idempotent: the same key for the same tenant is stored at most once. */
  idempotencyKey?: string;
}

/** A validated event with every default filled in: what is batched, spooled and sent. */
export interface NormalizedEvent {
  tenant: string;
  actor: string;
  action: string;
  target: string | null;
  decision: string | null;
  details: Record<string, unknown> | null;
  /** ISO-8601 UTC. */
  time: string;
  idempotencyKey: string;
}

export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const ACTION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;
const MAX_DETAILS_BYTES = 64 * 1024;

// Postgres text and jsonb cannot hold U+0000; reject it here rather than fail a whole batch later.
const noNul = (s: string) => !s.includes("\u0000");
const text = (max: number) =>
  z.string().min(1, "must not be empty").max(max, `must be at most ${max} characters`).refine(noNul, "must not contain NUL characters");

function jsonHasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(jsonHasNul);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).some(([k, v]) => k.includes("\u0000") || jsonHasNul(v));
  }
  return false;
}

// The JSON text of each parsed details object, made once by the size check below and reused
// for the round trip in normalizeEvent (an event is serialised once, not twice).
const detailsJson = new WeakMap<object, string>();

const eventSchema = z
  .object({
    tenant: z.string().regex(TENANT_ID_PATTERN, "must be 1-128 characters of [A-Za-z0-9._:-], starting with a letter or digit"),
    actor: text(256),
    action: z.string().max(128, "must be at most 128 characters").regex(ACTION_PATTERN, "must be a dotted lowercase verb such as edge.auth.denied"),
    target: text(1024).optional(),
    decision: text(64).optional(),
    details: z
      .record(z.string(), z.unknown())
      .optional()
      .superRefine((value, ctx) => {
        if (value === undefined) return;
        let json: string;
        try {
          json = JSON.stringify(value);
        } catch {
          ctx.addIssue({ code: "custom", message: "must be JSON-serialisable" });
          return;
        }
        if (Buffer.byteLength(json) > MAX_DETAILS_BYTES) ctx.addIssue({ code: "custom", message: `must serialise to at most ${MAX_DETAILS_BYTES} bytes of JSON` });
        // JSON.stringify writes every U+0000 (in a key or a string) as the escape \u0000, so
        // text without that sequence has none; only text with it needs the walk.
        if (json.includes("\\u0000") && jsonHasNul(value)) ctx.addIssue({ code: "custom", message: "must not contain NUL characters" });
        detailsJson.set(value, json);
      }),
    time: z.union([z.date(), z.string()]).optional(),
    idempotencyKey: z.string().regex(IDEMPOTENCY_KEY_PATTERN, "must be 1-200 characters of [A-Za-z0-9._:-]").optional(),
  })
  .strict();

export class AuditEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuditEventError";
  }
}

/** Validates an event and fills in time and idempotency key. Errors name the field. */
export function normalizeEvent(input: AuditEventInput): NormalizedEvent {
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`);
    throw new AuditEventError(`invalid audit event: ${issues.join("; ")}`);
  }
  const e = parsed.data;
  let time: string;
  if (e.time === undefined) {
    time = new Date().toISOString();
  } else {
    const d = e.time instanceof Date ? e.time : new Date(e.time);
    if (Number.isNaN(d.getTime())) throw new AuditEventError("invalid audit event: time: must be a valid date or ISO-8601 string");
    time = d.toISOString();
  }
  return {
    tenant: e.tenant,
    actor: e.actor,
    action: e.action,
    target: e.target ?? null,
    decision: e.decision ?? null,
    // JSON round trip: what is spooled and sent is exactly what JSON can carry (no undefined, no Dates).
    details: e.details === undefined ? null : (JSON.parse(detailsJson.get(e.details) ?? JSON.stringify(e.details)) as Record<string, unknown>),
    time,
    idempotencyKey: e.idempotencyKey ?? randomUUID(),
  };
}
