// Starting wake on request for a config, and carrying it across a reload: one place for the
// single-process edge (server.ts) and the cluster's primary (cluster-primary.ts).
import type { WakeConfig } from "@octw/contracts";
import { WakeCoordinator, type WakeDeps } from "./wake";
import type { WakePort } from "./wake-hold";
import { wakerClient } from "./waker-client";

/** Reads the waker's bearer token from `wake.tokenFile` (main.ts: a 0400 secret file). */
export type ReadWakerToken = ((tokenFile: string) => string) | undefined;

export function startWakeCoordinator(c: WakeConfig, read: ReadWakerToken, probe: WakeDeps["probe"], log: WakeDeps["log"]): WakeCoordinator {
  if (!read) throw new Error("wake: the edge was started without a way to read wake.tokenFile");
  const file = c.tokenFile;
  const w = new WakeCoordinator(c, { waker: wakerClient(c.wakerUrl, () => read(file)), probe, log });
  w.start();
  return w;
}

/**
 * Suspension switched on, changed or off without a restart (a platform that gains its first
 * suspendable tenant): the running wake reconfigured (what is in flight goes on), a new one
 * created, or the old one stopped.
 */
export function wakeAfterReload<W extends WakePort>(wake: W | undefined, prev: WakeConfig | undefined, next: WakeConfig | undefined, read: ReadWakerToken, create: (c: WakeConfig) => W): W | undefined {
  if (next && wake) {
    const sameWaker = next.wakerUrl === prev?.wakerUrl && next.tokenFile === prev?.tokenFile;
    const file = next.tokenFile;
    wake.reconfigure(next, sameWaker || !read ? undefined : wakerClient(next.wakerUrl, () => read(file)));
    return wake;
  }
  if (next) return create(next);
  wake?.stop();
  return undefined;
}
