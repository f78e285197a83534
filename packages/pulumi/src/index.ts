/**
 * @octw/pulumi — Pulumi components for hostile multi-tenant OpenClaw hosting.
 * Components declare; the decisions live in the pure planners, exported for reuse and review.
 */
export { TenantNetwork, type TenantNetworkArgs } from "./components/tenant-network.js";
export { SandboxPolicy, DEFAULT_PROXY_LIMITS, type SandboxPolicyArgs, type SandboxPolicyPlan } from "./components/sandbox-policy.js";
export { TenantGateway, ROUTER_TOKEN_PATH, EGRESS_CA_CERT_PATH, type TenantGatewayArgs } from "./components/tenant-gateway.js";
export { EgressCa, DEFAULT_EGRESS_CA_VALIDITY_DAYS, type EgressCaArgs } from "./components/egress-ca.js";
export { AuditStore, POSTGRES_UID, auditRoles, type AuditStoreLike, type AuditStoreArgs, type AuditConnection, type EmbeddedAuditStoreArgs, type ExternalAuditStoreArgs } from "./components/audit-store.js";
export { AuditSql, type AuditSqlArgs } from "./components/audit-sql.js";
export { TenantAuditReader, type TenantAuditReaderArgs } from "./components/tenant-audit-reader.js";
export { Edge, EDGE_PORT, EDGE_UID, renderEdgeConfig, type EdgeArgs } from "./components/edge.js";
export { ServiceConfigFile, type ServiceConfigFileArgs } from "./components/service-config-file.js";
export { InferenceRouter, ROUTER_UID, renderRouterConfig, type InferenceRouterArgs, type RouterTenantEntry } from "./components/inference-router.js";
export { EgressAuditShipper, EGRESS_AUDIT_UID, type EgressAuditShipperArgs } from "./components/egress-audit-shipper.js";
export { Waker, WAKER_UID, WAKER_PORT, suspendThresholds, wakerUrl, type WakerArgs } from "./components/waker.js";
export { NetworkAttachment, type NetworkAttachmentArgs } from "./components/network-attachment.js";
export { OpenClawPlatform, type OpenClawPlatformArgs, type PlatformTenant } from "./components/openclaw-platform.js";
export { OpenClawPlatformShared } from "./components/openclaw-platform-shared.js";
export { SHARED_AUDIT_OUTPUT, hostPartOf, type HostPart, type SharedAuditOutputs } from "./components/platform-parts.js";

export * from "./planners/network-plan.js";
// The sandbox policy format lives in @octw/contracts; re-exported so programs need one import.
export * from "@octw/contracts";
export * from "./planners/squid-config.js";
export * from "./planners/squid-credentials.js";
export * from "./planners/seccomp-profile.js";
export * from "./planners/container-hardening.js";
export * from "./planners/openclaw-config.js";
export * from "./planners/image-pinning.js";
export * from "./planners/platform-config.js";
export * from "./planners/identity-plan.js";
export * from "./planners/tenant-policy.js";
export * from "./planners/suspend-policy.js";
export * from "./planners/gateway-runtime.js";
export * from "./planners/inference-local.js";
export * from "./planners/hosts.js";
export * from "./planners/placement.js";
export * from "./planners/egress-interception.js";
