import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { labelList } from "../planners/container-hardening.js";
import { DEFAULT_ADDRESS_POOL, parseIpv4Cidr, slotCapacity, tenantAddressPlan, type TenantAddressPlan } from "../planners/network-plan.js";
import { OctwConfigError, parseOrThrow } from "../validation.js";
import { dockerName, namePrefixSchema, tenantIdSchema } from "./common.js";

/** TenantNetwork's args: the one declaration of their shape, validation and documentation. */
export const tenantNetworkArgsSchema = z.strictObject({
  tenantId: tenantIdSchema.meta({ description: "The tenant's id: a lowercase DNS label." }),
  slot: z.number().int().min(1).meta({ description: "The tenant's stable slot in the address pool (1 ≤ slot < pool capacity)." }),
  addressPool: z.string().optional().meta({ description: "IPv4 pool that tenant /27s are carved from.", default: "10.64.0.0/10" }),
  namePrefix: namePrefixSchema.optional().meta({ description: "Prefix of the Docker object names.", default: "octw" }),
  planned: z
    .custom<TenantAddressPlan>((v) => typeof v === "object" && v !== null && "subnet" in v, "must be a plan returned by tenantAddressPlan")
    .optional()
    .meta({
      description:
        "The address plan already made for this slot (OpenClawPlatform hands over `planPlatform`'s),\nused as is instead of being computed again; it must be the plan of `slot` in `addressPool`.",
      defaultText: "computed from `slot` and `addressPool`",
      // TypeScript only: a plan object, which the multi-language schema leaves out.
      internal: true,
    }),
});
export type TenantNetworkArgs = z.input<typeof tenantNetworkArgsSchema>;

/**
 * A tenant's own network: an `internal` bridge (no route out), with an explicit subnet from
 * the tenant's slot, no host address on the bridge (`inhibit_ipv4`, so the host's services are
 * not reachable through the bridge gateway), no inter-network routing, and fixed addresses
 * for the shared services that join it (edge, inference router) and for the tenant's own
 * containers.
 */
export class TenantNetwork extends pulumi.ComponentResource {
  /** The Docker network. Escape hatch for attaching other containers. */
  declare readonly network: docker.Network;
  declare readonly networkName: pulumi.Output<string>;
  declare readonly plan: TenantAddressPlan;

  constructor(name: string, args: TenantNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    const plan = TenantNetwork.plan(name, args);
    super("octw:index:TenantNetwork", name, {}, opts);
    const prefix = args.namePrefix ?? "octw";
    const network = new docker.Network(
      `${name}-network`,
      {
        name: dockerName(prefix, args.tenantId, "net"),
        driver: "bridge",
        internal: true,
        attachable: false,
        ipv6: false,
        ipamConfigs: [{ subnet: plan.subnet, gateway: plan.bridgeGateway, ipRange: plan.dynamicRange }],
        options: {
          "com.docker.network.bridge.enable_icc": "true",
          "com.docker.network.bridge.enable_ip_masquerade": "false",
          "com.docker.network.bridge.inhibit_ipv4": "true",
        },
        labels: labelList({ "octw.tenant": args.tenantId, "octw.component": "tenant-network", "octw.managed-by": "pulumi" }),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.network = network;
    this.networkName = network.name;
    this.plan = plan;
    this.registerOutputs({ networkName: this.networkName, subnet: plan.subnet });
  }

  /** Validates the args and computes the address plan without declaring anything. */
  static plan(name: string, args: TenantNetworkArgs): TenantAddressPlan {
    const subject = `TenantNetwork "${name}"`;
    const parsed = parseOrThrow(tenantNetworkArgsSchema, args, subject);
    const pool = parseIpv4Cidr(parsed.addressPool ?? DEFAULT_ADDRESS_POOL);
    if (!pool) throw new OctwConfigError(subject, [{ path: "addressPool", message: "must be an IPv4 CIDR without host bits, e.g. 10.64.0.0/10" }]);
    if (parsed.slot >= slotCapacity(pool)) throw new OctwConfigError(subject, [{ path: "slot", message: `must be < ${slotCapacity(pool)} for this address pool` }]);
    if (parsed.planned === undefined) return tenantAddressPlan(pool, parsed.slot);
    // A handed-over plan is trusted only if it is this slot's: cheap to check, and a mismatch
    // would put the tenant's containers on addresses of another tenant's network.
    if (parsed.planned.subnet !== tenantAddressPlan(pool, parsed.slot).subnet) {
      throw new OctwConfigError(subject, [{ path: "planned", message: "is not the address plan of this slot in this address pool" }]);
    }
    return parsed.planned;
  }
}
