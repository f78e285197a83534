/**
 * The OCTW CrossGuard policy pack: `pulumi preview --policy-pack packages/policy-pack` (with
 * `--policy-pack-config <file>` for enforcement levels and exemptions). The Pulumi CLI runs this
 * file; constructing the PolicyPack starts the analyzer the engine talks to.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies.js";

new PolicyPack("octw-isolation", {
  description: "The isolation OCTW rests on: hardened containers, pinned images, internal tenant networks, one principal per UID, no generated secret in an environment.",
  enforcementLevel: "mandatory",
  policies,
});
