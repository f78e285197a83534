// Waiting for something a test started (a container, a service) to be ready.

/** Polls `f` every second until it gives a value (a throw counts as "not yet"), or fails naming `what` and the last error. */
export async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not ready after ${timeoutMs} ms (${String(last)})`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
