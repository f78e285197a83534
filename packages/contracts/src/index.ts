/**
 * @octw/contracts — formats more than one package reads: the sandbox policy format (a tenant's
 * OpenShell-format policy, its presets and the rules for egress hosts) and the one error type for
 * bad input, whose problems cross package boundaries as structured `{ path, message }` issues.
 * Pure: no Pulumi, no Docker, no server code.
 */
export * from "./config-error.js";
export * from "./host-rules.js";
export * from "./sandbox-policy-schema.js";
export * from "./policy-enforcement.js";
export * from "./l7-path.js";
export * from "./presets.js";
export * from "./edge-config.js";
export * from "./edge-oidc-config.js";
export * from "./provider-destination.js";
export * from "./router-config.js";
export * from "./inference-policy.js";
export * from "./special-addresses.js";
