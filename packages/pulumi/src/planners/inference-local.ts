/**
 * `inference.local` for a tenant's gateway. OpenShell gives every sandbox this name for its
 * inference route, and NemoClaw's policies and agent configs use it; on OCTW it names the tenant's
 * own inference router on the tenant network (the address the router already listens on for this
 * tenant), so those policies and configs work unchanged. The name is resolved by the container's
 * hosts file (the gateway's DNS is a dead resolver on purpose: see TenantGateway), and it bypasses
 * the egress proxy, which would refuse it: a model call never is egress.
 *
 * The router speaks plain HTTP on ROUTER_PORT and wants the tenant's router token like any other
 * call (`http://inference.local:8080/v1/…`); OpenShell's `https://inference.local` (TLS on 443 with
 * the sandbox CA) is not served.
 */
import { INFERENCE_LOCAL_HOST } from "@octw/contracts";

export interface InferenceLocalPlan {
  /** Extra hosts-file entries for the gateway container. */
  readonly hosts: readonly { readonly host: string; readonly ip: string }[];
  /** `NO_PROXY` / `no_proxy`: what the gateway's clients reach without the egress proxy. */
  readonly noProxy: string;
}

const ALWAYS_DIRECT = ["localhost", "127.0.0.1"];

/** The plan for a tenant whose router listens at `routerAddress`; a tenant without a router gets no name. */
export function inferenceLocalPlan(routerAddress: string | undefined): InferenceLocalPlan {
  if (routerAddress === undefined) return { hosts: [], noProxy: ALWAYS_DIRECT.join(",") };
  return { hosts: [{ host: INFERENCE_LOCAL_HOST, ip: routerAddress }], noProxy: [...ALWAYS_DIRECT, INFERENCE_LOCAL_HOST].join(",") };
}
