import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "node:crypto";
import { z } from "zod";
import { DEFAULT_GATEWAY_LIMITS, gatewayLimitsSchema, hardenedContainerArgs, labelList, tmpfsMountSchema, volumeInitArgs, REPLACE_ON_CHANGES, SUSPENDABLE_IGNORE_CHANGES } from "../planners/container-hardening.js";
import { imageProblem } from "../planners/image-pinning.js";
import { OPENCLAW_PORT, OPENCLAW_STATE_DIR, renderOpenClawConfig } from "../planners/openclaw-config.js";
import { gatewayRuntimeEnv, gatewayStartPrelude } from "../planners/gateway-runtime.js";
import { heartbeatEverySchema } from "../planners/heartbeat.js";
import { inferenceLocalPlan } from "../planners/inference-local.js";
import { OctwConfigError, parseOrThrow } from "../validation.js";
import { ScopeSchema, openclawModelsConfig, type ParsedInferencePolicy } from "@octw/contracts";
import { tenantPrincipalIdSchema } from "../planners/identity-plan.js";
import { afterSuccessOf, dockerName, inputString, namePrefixSchema, tenantIdSchema } from "./common.js";

/** Where the generated per-tenant secrets land: inside the 0700 state volume, each file 0400 and owned by the tenant. */
export const ROUTER_TOKEN_PATH = `${OPENCLAW_STATE_DIR}/.octw/router-token`;
/** The tenant's egress interception CA certificate (public), which the gateway's node trusts (NODE_EXTRA_CA_CERTS). */
export const EGRESS_CA_CERT_PATH = `${OPENCLAW_STATE_DIR}/.octw/egress-ca.pem`;

/** TenantGateway's args: the one declaration of their shape, validation and documentation. */
export const tenantGatewayArgsSchema = z.strictObject({
  tenantId: tenantIdSchema,
  image: z.string().meta({ description: "OpenClaw image: `repo@sha256:…` or a local image id `sha256:…`." }),
  allowUnpinnedImage: z.boolean().optional().meta({ description: "Accept a tag-only image.", default: false }),
  networkName: inputString.meta({ description: "The tenant network (the gateway's only network)." }),
  address: z.ipv4().meta({ description: "The gateway's fixed address on it." }),
  edgeAddress: z.ipv4().meta({ description: "The edge's fixed address on it: the only proxy the gateway trusts for identity headers." }),
  proxyUrl: z
    .string()
    .regex(/^http:\/\/[0-9.]+:[0-9]+$/, "must be http://<ipv4>:<port>")
    .meta({ description: "`http://<proxy>:3128` from the tenant's SandboxPolicy." }),
  tmpfs: z
    .array(tmpfsMountSchema)
    .refine((m) => m.some((x) => x.path === "/tmp"), "must include /tmp (OpenClaw needs it)")
    .meta({ description: "Writable tmpfs mounts granted by the tenant's SandboxPolicy (`/tmp` at least)." }),
  // a tenant's own id, never the host's or a shared service's (identity-plan)
  uid: tenantPrincipalIdSchema.meta({ description: "The tenant's UID and GID (distinct per tenant; see `tenantIdentityPlan`)." }),
  gid: tenantPrincipalIdSchema,
  limits: gatewayLimitsSchema.meta({ id: "PartialTenantGatewayLimits" }).optional().meta({ description: "Resource limits.", defaultText: "{ memoryMb: 1536, cpus: 1, nproc: 512, nofile: 8192 }" }),
  runtime: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,62}$/, "must be an OCI runtime name such as runsc")
    .optional()
    .meta({ description: "OCI runtime for a stronger boundary, e.g. `runsc` (gVisor) — must be installed on the host.", defaultText: "the engine's default runtime (runc)" }),
  allowedOrigins: z
    .array(z.url({ protocol: /^https?$/ }))
    .optional()
    .meta({ description: "Origins allowed to open the Control UI.", default: [] }),
  heartbeatEveryS: heartbeatEverySchema.optional().meta({
    description: "OpenClaw heartbeat interval in seconds, 0 off (`agents.defaults.heartbeat.every`).",
    defaultText: "not written: OpenClaw's own default (30 min)",
  }),
  deviceAutoApproveScopes: z
    .array(ScopeSchema)
    .optional()
    .meta({
      description:
        "People sign in at the edge (OIDC): new browsers are approved by the proxy identity up to\nthese scopes (capped per person by the edge's x-openclaw-scopes).",
      defaultText: "off: a new browser waits for a one-time approval on the gateway host",
    }),
  inference: z
    .strictObject({ routerAddress: z.ipv4(), policy: z.custom<ParsedInferencePolicy>((v) => typeof v === "object" && v !== null) })
    .optional()
    .meta({
      description:
        "Model providers through the inference router: the router's address on this tenant's network\nand the tenant's `inference` policy. The gateway's API key for them is its router token file.",
      defaultText: "no model providers configured",
    }),
  egressCaCert: inputString.optional().meta({
    description:
      "The tenant's egress interception CA certificate (SandboxPolicy `egressCaCert`): trusted by\nthe gateway's node processes (OpenClaw and what it runs with node) in addition to the\nsystem roots, so that its L7 endpoints work through its proxy. Only this tenant's CA.",
    defaultText: "none: the proxy intercepts nothing",
  }),
  namePrefix: namePrefixSchema.optional().meta({ description: "Prefix of the Docker object names.", default: "octw" }),
  lean: z
    .boolean()
    .optional()
    .meta({
      description:
        "The leaner settings of planners/gateway-runtime.ts (smaller V8 young generation, compile cache\nin the state volume, no self-respawn, no retained copy of the Control UI assets). They\ndisable no OpenClaw feature.",
      default: true,
    }),
});
export type TenantGatewayArgs = z.input<typeof tenantGatewayArgsSchema>;

/**
 * A tenant's OpenClaw gateway: its state volume (0700, owned by the tenant UID — set by a
 * one-shot init container that has only CAP_CHOWN and CAP_FOWNER and no network), its generated
 * secrets (delivered as 0400 files in the state volume, never as environment), its OpenClaw
 * config (trusted-proxy auth trusting only the edge) and the hardened container itself,
 * attached to its tenant network only, with no published port.
 */
export class TenantGateway extends pulumi.ComponentResource {
  declare readonly container: docker.Container;
  declare readonly stateVolume: docker.Volume;
  declare readonly containerName: pulumi.Output<string>;
  /** `http://<address>:18789` on the tenant network. */
  declare readonly url: pulumi.Output<string>;
  /** Per-tenant token for the inference router. Secret. */
  declare readonly routerToken: pulumi.Output<string>;

  constructor(name: string, args: TenantGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    const parsed = TenantGateway.validate(name, args);
    super("octw:index:TenantGateway", name, {}, opts);
    const prefix = parsed.namePrefix ?? "octw";
    const limits = { ...DEFAULT_GATEWAY_LIMITS, ...parsed.limits };
    const labels = (component: string) => labelList({ "octw.tenant": parsed.tenantId, "octw.component": component, "octw.managed-by": "pulumi" });

    const image = new docker.RemoteImage(`${name}-image`, { name: parsed.image, keepLocally: true }, { parent: this });

    this.stateVolume = new docker.Volume(
      `${name}-state`,
      { name: dockerName(prefix, parsed.tenantId, "state"), driver: "local", labels: labels("gateway-state") },
      // The tenant's memory outlives the declaration: removing the tenant (or `pulumi destroy`)
      // leaves the volume on the engine, so a mistaken config change cannot erase a tenant's data.
      // Offboarding removes it explicitly (README: "Removing a tenant for good").
      { parent: this, retainOnDelete: true },
    );

    const routerToken = new random.RandomPassword(`${name}-router-token`, { length: 48, special: false }, { parent: this });
    // One secret output for both the state file and the component's output.
    const routerTokenSecret = pulumi.secret(routerToken.result);
    const config = renderOpenClawConfig({
      edgeAddress: parsed.edgeAddress,
      allowedOrigins: parsed.allowedOrigins ?? [],
      ...(parsed.deviceAutoApproveScopes ? { deviceAutoApproveScopes: parsed.deviceAutoApproveScopes } : {}),
      ...(parsed.heartbeatEveryS !== undefined ? { heartbeatEveryS: parsed.heartbeatEveryS } : {}),
      ...(parsed.inference
        ? { models: openclawModelsConfig({ routerAddress: parsed.inference.routerAddress, tokenFile: ROUTER_TOKEN_PATH, inference: parsed.inference.policy }) }
        : {}),
    });

    // One-shot: deliver the config and secret files into the state volume and make its root the
    // tenant's, mode 0700, before the gateway mounts it. pulumi-docker uploads by PUTting an
    // archive at "/" of the container, which the engine refuses for a read-only root; so the
    // files go through this short-lived container (root fs writable, no network, only
    // CAP_CHOWN/CAP_FOWNER, exits at once) and the long-lived gateway stays read-only.
    const stateInit = new docker.Container(
      `${name}-state-init`,
      {
        name: dockerName(prefix, parsed.tenantId, "state-init"),
        image: image.imageId,
        ...volumeInitArgs<pulumi.Input<string>>({
          uid: parsed.uid,
          gid: parsed.gid,
          volumeName: this.stateVolume.name,
          files: [
            { path: "openclaw.json", content: config },
            { path: ".octw/router-token", content: routerTokenSecret },
            ...(parsed.egressCaCert !== undefined ? [{ path: ".octw/egress-ca.pem", content: parsed.egressCaCert }] : []),
          ],
        }),
        labels: labels("gateway-state-init"),
      },
      { parent: this, deleteBeforeReplace: true },
    );

    const inferenceLocal = inferenceLocalPlan(parsed.inference?.routerAddress);
    const hardening = hardenedContainerArgs({ uid: parsed.uid, gid: parsed.gid, limits, tmpfs: parsed.tmpfs, runtime: parsed.runtime });
    const hostname = dockerName(prefix, parsed.tenantId, "gateway");
    const envs = (caCert: string): string[] => [
      // Replaces the gateway when its config or its trusted egress CA changes (the files arrive through state-init).
      `OCTW_CONFIG_SHA256=${createHash("sha256").update(config).digest("hex")}`,
      ...(caCert
        ? [
            `OCTW_EGRESS_CA_SHA256=${createHash("sha256").update(caCert).digest("hex")}`,
            // Read once by node at start: the system roots plus this tenant's CA, for every
            // TLS client of node that brings no CA list of its own (https, fetch, undici).
            `NODE_EXTRA_CA_CERTS=${EGRESS_CA_CERT_PATH}`,
          ]
        : []),
      `OPENCLAW_STATE_DIR=${OPENCLAW_STATE_DIR}`,
      `HOME=${OPENCLAW_STATE_DIR}`,
      "XDG_CACHE_HOME=/tmp/.cache",
      "OPENCLAW_CONFIG_READONLY=1",
      "OPENCLAW_NO_AUTO_UPDATE=1",
      "OPENCLAW_DISABLE_BONJOUR=1",
      `OPENCLAW_PROXY_URL=${parsed.proxyUrl}`,
      `HTTP_PROXY=${parsed.proxyUrl}`,
      `HTTPS_PROXY=${parsed.proxyUrl}`,
      `http_proxy=${parsed.proxyUrl}`,
      `https_proxy=${parsed.proxyUrl}`,
      `NO_PROXY=${inferenceLocal.noProxy}`,
      `no_proxy=${inferenceLocal.noProxy}`,
      ...gatewayRuntimeEnv({ lean: parsed.lean ?? true }),
    ];
    this.container = new docker.Container(
      `${name}-gateway`,
      {
        name: hostname,
        image: image.imageId,
        // Fixed: OpenClaw's owner lease is keyed on hostname; a new random one after a crash blocks start for 5 min.
        hostname,
        ...hardening,
        networksAdvanced: [{ name: parsed.networkName, ipv4Address: parsed.address }],
        // Only container names of the tenant network resolve; everything else goes to a dead loopback
        // resolver instead of Docker's upstream — closes the DNS exfiltration channel of internal networks.
        dns: ["127.0.0.1"],
        // A lookup of an outside name then fails after 1 s instead of glibc's 2 × 5 s.
        dnsOpts: ["timeout:1", "attempts:1"],
        // inference.local → the tenant's inference router (planners/inference-local.ts).
        hosts: [...inferenceLocal.hosts],
        mounts: [{ type: "volume", source: this.stateVolume.name, target: OPENCLAW_STATE_DIR }],
        // Known now unless the CA is an Output: a plain list then, not one more Output per tenant.
        envs: typeof parsed.egressCaCert === "string" || parsed.egressCaCert === undefined ? envs(parsed.egressCaCert ?? "") : pulumi.output(parsed.egressCaCert).apply(envs),
        // Fail closed if state-init did not run or failed (pulumi-docker does not fail an
        // `attach` container on a non-zero exit): the state dir must be this UID's and the config
        // present, or the gateway never starts and the healthcheck fails the deploy.
        command: [
          "/bin/sh",
          "-c",
          `if [ "$(stat -c %a:%u ${OPENCLAW_STATE_DIR})" != "700:$(id -u)" ] || [ ! -r ${OPENCLAW_STATE_DIR}/openclaw.json ]; then echo "octw: ${OPENCLAW_STATE_DIR} is not 0700 and owned by $(id -u), or openclaw.json is missing: state-init did not run" >&2; exit 78; fi; ${gatewayStartPrelude({ lean: parsed.lean ?? true })} exec openclaw gateway run`,
        ],
        healthcheck: {
          // /healthz must answer JSON: the Control UI answers unknown paths with 200 HTML.
          tests: [
            "CMD",
            "/usr/local/bin/node",
            "-e",
            `fetch("http://127.0.0.1:${OPENCLAW_PORT}/healthz").then(async (r) => { const j = await r.json(); process.exit(r.ok && j && typeof j === "object" ? 0 : 1); }).catch(() => process.exit(1))`,
          ],
          interval: "15s",
          timeout: "5s",
          // "1m0s", not "60s": the provider reads durations back as Go's time.Duration.String()
          startPeriod: "1m0s",
          retries: 3,
        },
        restart: "unless-stopped",
        stopSignal: "SIGTERM",
        destroyGraceSeconds: 10,
        wait: true,
        waitTimeout: afterSuccessOf(stateInit, `${name}: state-init`, 180),
        // octw.platform: the waker acts only on containers of its own platform (packages/waker).
        // Not on the volume: a volume's labels force its replacement, and it holds the tenant's state.
        labels: labelList({ "octw.tenant": parsed.tenantId, "octw.component": "gateway", "octw.platform": prefix, "octw.managed-by": "pulumi" }),
      },
      { parent: this, deleteBeforeReplace: true, dependsOn: [stateInit], replaceOnChanges: REPLACE_ON_CHANGES, ignoreChanges: SUSPENDABLE_IGNORE_CHANGES },
    );
    this.containerName = this.container.name;
    this.url = pulumi.output(`http://${parsed.address}:${OPENCLAW_PORT}`);
    this.routerToken = routerTokenSecret;
    this.registerOutputs({ containerName: this.containerName, url: this.url, routerToken: this.routerToken });
  }

  static validate(name: string, args: TenantGatewayArgs) {
    const subject = `TenantGateway "${name}"`;
    const parsed = parseOrThrow(tenantGatewayArgsSchema, args, subject);
    const problem = imageProblem(parsed.image, parsed.allowUnpinnedImage ?? false);
    if (problem) throw new OctwConfigError(subject, [{ path: "image", message: problem }]);
    return parsed;
  }
}
