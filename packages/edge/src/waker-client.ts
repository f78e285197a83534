// The edge's side of the waker's HTTP contract (packages/waker/README.md): exactly wake and
// suspend, with the bearer token from the waker's token file. The edge never holds the Engine
// API socket; this URL and token are all it has.
import http from "node:http";
import type { SuspendTier } from "./idle-clock";

export interface WakerApi {
  /** Resolves when the waker answers 200 (the gateway is running); rejects otherwise. */
  wake(tenant: string, timeoutMs: number): Promise<void>;
  /**
   * `horizonS`: the tenant's stop threshold; the waker keeps a stop at paused when one of the
   * tenant's scheduled jobs is due sooner (packages/waker/README.md, "Scheduled jobs").
   */
  suspend(tenant: string, tier: SuspendTier, horizonS?: number): Promise<void>;
}

/** A waker call that did not succeed; the message names the status, never the token. */
export class WakerCallError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = "WakerCallError";
  }
}

/** A suspend may wait for a `docker stop` grace period; wake has its own timeout. */
const SUSPEND_TIMEOUT_MS = 60_000;

/**
 * `token` is read at every call (wake and suspend are rare): the file may appear after the config
 * that names it (a deployment writes them one after the other) and may be rotated in place.
 */
export function wakerClient(baseUrl: string, token: () => string): WakerApi {
  const base = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const call = (path: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      let bearer: string;
      try {
        bearer = token();
      } catch (err) {
        // The reader's message names the file, never its content.
        reject(new WakerCallError(undefined, err instanceof Error ? err.message : "cannot read the waker token"));
        return;
      }
      const req = http.request(
        {
          host: base.hostname,
          port: base.port || 80,
          method: "POST",
          path,
          agent,
          headers: { authorization: `Bearer ${bearer}`, "content-length": "0" },
          signal: AbortSignal.timeout(timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size <= 4_096) chunks.push(c);
          });
          res.on("error", (err) => reject(new WakerCallError(undefined, `waker answer cut: ${err.message}`)));
          res.on("end", () => {
            if (res.statusCode === 200) return resolve();
            let error = "";
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { error?: unknown };
              if (typeof body.error === "string") error = `: ${body.error.slice(0, 200)}`;
            } catch {
              // not JSON: the status says enough
            }
            reject(new WakerCallError(res.statusCode, `waker answered ${res.statusCode}${error}`));
          });
        },
      );
      req.on("error", (err) =>
        reject(new WakerCallError(undefined, err.name === "AbortError" || err.name === "TimeoutError" ? `waker did not answer within ${timeoutMs} ms` : `waker unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}`)),
      );
      req.end();
    });
  return {
    wake: (tenant, timeoutMs) => call(`/tenants/${encodeURIComponent(tenant)}/wake?wait=running&reason=request`, timeoutMs),
    suspend: (tenant, tier, horizonS) =>
      call(`/tenants/${encodeURIComponent(tenant)}/suspend?tier=${tier}&reason=idle${horizonS === undefined ? "" : `&horizonS=${Math.max(0, Math.min(999_999, Math.floor(horizonS)))}`}`, SUSPEND_TIMEOUT_MS),
  };
}
