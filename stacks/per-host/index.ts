/**
 * The per-host stack layout (README "Past one host"; docs/multi-host.md "Stacks that scale"):
 * a `shared` stack and one `host` stack per host, chosen by the stack's `octw:layout`
 * (program.ts), all planning the one config of platform.ts, so they cannot disagree on placement.
 */
import { perHostProgram } from "./program.js";
import { platformConfig } from "./platform.js";

export default function program(): Record<string, unknown> {
  return perHostProgram(platformConfig);
}
