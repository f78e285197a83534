import { createHash } from "node:crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { auditCaCertificateSchema } from "./audit-ca.js";
import { hardenedContainerArgs, labelList, limitsSchema, volumeInitArgs, type ResourceLimits, type TmpfsMount, REPLACE_ON_CHANGES, SUSPENDABLE_IGNORE_CHANGES } from "../planners/container-hardening.js";
import { imageProblem } from "../planners/image-pinning.js";
import { tenantPrincipalIdSchema } from "../planners/identity-plan.js";
import {
  POLICY_PRESET_NAMES,
  UNENFORCEABLE_FEATURES,
  type PolicyPresetName,
  type EnforcedSandboxPolicy,
  type SandboxPolicyDocument,
  type UnenforceableFeature,
} from "@octw/contracts";
import { SQUID_PORT, renderSquidConfig } from "../planners/squid-config.js";
import { renderCredentialInclude } from "../planners/squid-credentials.js";
import { EGRESS_CA_DIR, EGRESS_CREDENTIALS_FILE, EGRESS_CREDENTIALS_NAME, egressInterception, upstreamCaCertsSchema } from "../planners/egress-interception.js";
import { EgressCa } from "./egress-ca.js";
import { EgressCredentials } from "./egress-credentials.js";
import type { AuditConnection } from "./audit-store.js";
import { planTenantPolicy, type TenantPolicyPlan } from "../planners/tenant-policy.js";
import type { ParsedInferencePolicy } from "@octw/contracts";
import { OctwConfigError, parseOrThrow } from "../validation.js";
import { afterSuccessOf, dockerName, inputString, namePrefixSchema, tenantIdSchema } from "./common.js";

export const DEFAULT_PROXY_LIMITS: ResourceLimits = { memoryMb: 128, cpus: 0.5, nproc: 128, nofile: 4096 };

const proxyLimitsSchema = limitsSchema({ memoryMb: 64, nproc: 16, nofile: 64 });

/** SandboxPolicy's args: the one declaration of their shape, validation and documentation. */
export const sandboxPolicyArgsSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    // Checked by the policy planner (planTenantPolicy), which names the field.
    policy: z
      .custom<SandboxPolicyDocument | string>()
      .optional()
      .meta({
        description: "The tenant's own policy: an object or YAML text in OCTW's subset of the OpenShell format.\nMerged after `presets`.",
        defaultText: "no extra rules: only what the presets allow",
      }),
    presets: z
      .array(z.enum(POLICY_PRESET_NAMES as [PolicyPresetName, ...PolicyPresetName[]]))
      .optional()
      .meta({ description: "Presets merged (in order) before `policy`.", default: ["restricted"] }),
    allowUnenforced: z
      .array(z.enum(UNENFORCEABLE_FEATURES as [UnenforceableFeature, ...UnenforceableFeature[]]))
      .optional()
      .meta({
        description:
          "Features of the format that Docker cannot enforce and that this tenant accepts as not\nenforced. Each accepted field is listed in `notEnforced`.",
        defaultText: "[] - any unenforceable field is an error",
      }),
    tenantNetworkName: inputString.meta({ description: "The tenant network the proxy serves on." }),
    proxyAddress: z.ipv4().meta({ description: "The proxy's fixed address on the tenant network." }),
    inferenceRouter: z
      .strictObject({ address: z.ipv4(), port: z.number().int().min(1).max(65535) })
      .optional()
      .meta({
        description:
          "The tenant's inference router on the tenant network (when its policy has `inference`):\nthe proxy lets the gateway's model calls through to it (see renderSquidConfig).",
        defaultText: "none",
      }),
    egressNetworkName: inputString.meta({ description: "The shared egress network (bridge with `enable_icc=false`) the proxy reaches out through." }),
    proxyImage: z.string().meta({ description: "Squid image: `repo@sha256:…` or a local image id `sha256:…`." }),
    allowUnpinnedImage: z.boolean().optional().meta({ description: "Accept a tag-only `proxyImage`.", default: false }),
    upstreamCaCerts: upstreamCaCertsSchema.optional().meta({
      description:
        "PEM certificates the proxy trusts, besides the image's system bundle, when it verifies the\nupstream of an intercepted (L7) endpoint: e.g. the private CA of an internal API reached\nthrough `allowed_ips`. The operator's setting, never a tenant's.",
      defaultText: "[] - the system bundle only",
    }),
    // a tenant's own id, never the host's or a shared service's (identity-plan)
    proxyUid: tenantPrincipalIdSchema.meta({ description: "UID and GID the proxy runs as (per tenant)." }),
    proxyGid: tenantPrincipalIdSchema,
    proxyLimits: proxyLimitsSchema
      .meta({ id: "PartialSandboxPolicyProxyLimits" })
      .optional()
      .meta({ description: "Limits of the proxy container.", defaultText: "{ memoryMb: 128, cpus: 0.5, nproc: 128, nofile: 4096 }" }),
    namePrefix: namePrefixSchema.optional().meta({ description: "Prefix of the Docker object names.", default: "octw" }),
    insecureInferenceProvidersForTests: z
      .array(z.string())
      .min(1)
      .optional()
      .meta({
        description:
          "TEST ONLY: accept plain-http inference providers on these networks (the suite's fake\nprovider). Honoured only when the program's environment has\nOCTW_ROUTER_INSECURE_PROVIDERS_FOR_TESTS=1, which no stack or component sets.",
        defaultText: "none: https and public destinations only",
      }),
    platformNetworks: z
      .array(z.string())
      .optional()
      .meta({
        description: "The platform's networks, never an inference provider (OpenClawPlatform passes its address\npool, egress, control and ingress subnets).",
        defaultText: "none beyond the non-public ranges, which are always refused",
      }),
    // Produced by planTenantPolicy; only its presence is checked here.
    planned: z
      .custom<TenantPolicyPlan>((v) => typeof v === "object" && v !== null && "enforced" in v, "must be a plan returned by planTenantPolicy")
      .optional()
      .meta({
        description:
          "A policy already planned by {@link planTenantPolicy} (OpenClawPlatform hands over its\n`planPlatform` result, so a tenant's policy is validated and planned once). When set,\n`policy`, `presets`, `allowUnenforced`, `insecureInferenceProvidersForTests` and\n`platformNetworks` must not be: they are what the plan was made from.",
        defaultText: "planned here from `presets` and `policy`",
        // TypeScript only: a plan object, which the multi-language schema leaves out.
        internal: true,
      }),
    credentialStore: z
      .strictObject({
        connection: z.custom<pulumi.Input<AuditConnection>>((v) => typeof v === "object" && v !== null, "must be an audit connection"),
        masterKeyring: inputString,
        caCertificate: auditCaCertificateSchema.optional(),
      })
      .optional()
      .meta({
        description:
          "Where the tenant's secrets are read for its credential-bound endpoints (`credential_binding`):\na role that may SELECT `tenant_secrets` and the master keyring (both secret). Required when the\npolicy binds credentials; the values reach only the proxy (a 0400 file), never the gateway.",
        defaultText: "none: a policy with `credential_binding` is refused",
        // TypeScript only: OpenClawPlatform passes its audit store's.
        internal: true,
      }),
  })
  .superRefine((a, ctx) => {
    if (a.planned === undefined) return;
    for (const key of ["policy", "presets", "allowUnenforced", "insecureInferenceProvidersForTests", "platformNetworks"] as const) {
      if (a[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: "must not be set together with planned (the plan was made from it)" });
    }
  });
export type SandboxPolicyArgs = z.input<typeof sandboxPolicyArgsSchema>;

/** The writable places the policy grants the gateway, with their sizes. */
export interface GatewayFilesystemPlan {
  readonly tmpfs: readonly TmpfsMount[];
}

/** What validating a policy yields, before anything is declared. */
export interface SandboxPolicyPlan {
  readonly enforced: EnforcedSandboxPolicy;
  readonly squidConfig: string;
  readonly proxyUrl: string;
  readonly gatewayFilesystem: GatewayFilesystemPlan;
  /** True when some endpoint has L7 rules: the proxy intercepts them with the tenant's own CA. */
  readonly interception: boolean;
  /** Providers bound by `credential_binding` on enforced endpoints (their secrets go into the proxy's include). */
  readonly boundProviders: readonly string[];
  /** The tenant's model providers through the inference router, when the policy has `inference`. */
  readonly inference?: ParsedInferencePolicy;
}

/**
 * A tenant's runtime-containment policy and its enforcement: the egress proxy (Squid, config
 * generated from the allowlist, on the tenant network and the shared egress network) and the
 * filesystem/process hardening the gateway must get (`gatewayFilesystem`, consumed by
 * TenantGateway).
 */
export class SandboxPolicy extends pulumi.ComponentResource {
  declare readonly proxyContainer: docker.Container;
  /** `http://<proxy address>:3128`: what the gateway's HTTP(S)_PROXY points at. */
  declare readonly proxyUrl: pulumi.Output<string>;
  /** Fields accepted through `allowUnenforced`, each with why it is not enforced. */
  declare readonly notEnforced: pulumi.Output<string[]>;
  /** The allowlist as enforced (host, ports, allowed IPs). */
  declare readonly egressRules: pulumi.Output<EnforcedSandboxPolicy["egress"]>;
  declare readonly plan: SandboxPolicyPlan;
  /**
   * The tenant's interception CA certificate (PEM, public), when the policy has L7 rules: what
   * the tenant's gateway must trust (TenantGateway `egressCaCert`). Its key stays in the proxy.
   */
  declare readonly egressCaCert?: pulumi.Output<string>;

  constructor(name: string, args: SandboxPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    const plan = SandboxPolicy.plan(name, args);
    super("octw:index:SandboxPolicy", name, {}, opts);
    const prefix = args.namePrefix ?? "octw";
    const limits = { ...DEFAULT_PROXY_LIMITS, ...args.proxyLimits };

    const image = new docker.RemoteImage(`${name}-proxy-image`, { name: args.proxyImage, keepLocally: true }, { parent: this });
    const hardening = hardenedContainerArgs({
      uid: args.proxyUid,
      gid: args.proxyGid,
      limits,
      tmpfs: [
        { path: "/tmp", sizeMb: 16 },
        { path: "/run/squid", sizeMb: 4 },
        { path: "/var/spool/squid", sizeMb: 4 },
        { path: "/var/log/squid", sizeMb: 16 },
      ],
    });
    // L7 rules: the tenant's own interception CA. Its key goes only into this proxy, as a 0400
    // file on a volume of its own (written by a one-shot init container: the proxy's root is
    // read-only), never into the environment or an unmarked output.
    let ca: { volume: docker.Volume; init: docker.Container; cert: pulumi.Output<string>; sha256: pulumi.Output<string> } | undefined;
    // Credential bindings: the tenant's bound secrets, read operator side, rendered into the
    // proxy's include (secret), which the CA init writes beside the CA key (0400, the proxy's UID).
    let credentialFile: { content: pulumi.Output<string>; versionsSha256: pulumi.Output<string> } | undefined;
    if (plan.boundProviders.length > 0) {
      // Present: plan() refuses bound providers without it.
      const store = args.credentialStore!;
      const read = new EgressCredentials(
        `${name}-egress-credentials`,
        {
          tenantId: args.tenantId, providers: [...plan.boundProviders], connection: store.connection, masterKeyring: store.masterKeyring,
          ...(store.caCertificate !== undefined ? { caCertificate: store.caCertificate } : {}),
        },
        // The component's own dependencies (the platform's audit store, i.e. its migrations) come first: the reader queries its table.
        { parent: this, ...(opts?.dependsOn ? { dependsOn: opts.dependsOn } : {}) },
      );
      const rules = plan.enforced.egress;
      credentialFile = {
        content: pulumi.secret(
          read.secrets.apply((byProvider) =>
            renderCredentialInclude(rules, rules.flatMap((r, i) => (r.credentials ? [{ rule: i, secrets: byProvider[r.credentials.provider] ?? {} }] : []))).text,
          ),
        ),
        // Names and versions only (public): the proxy is replaced when a bound secret changes.
        versionsSha256: read.versions.apply((v) => createHash("sha256").update(JSON.stringify(v)).digest("hex")),
      };
    }
    if (plan.interception) {
      const authority = new EgressCa(`${name}-egress-ca`, { tenantId: args.tenantId, namePrefix: prefix }, { parent: this });
      const volume = new docker.Volume(
        `${name}-egress-ca`,
        { name: dockerName(prefix, args.tenantId, "egress-ca"), driver: "local", labels: labelList({ "octw.tenant": args.tenantId, "octw.component": "egress-ca", "octw.managed-by": "pulumi" }) },
        { parent: this },
      );
      const files = egressInterception(args.upstreamCaCerts ?? []).files;
      const init = new docker.Container(
        `${name}-egress-ca-init`,
        {
          name: dockerName(prefix, args.tenantId, "egress-ca-init"),
          image: image.imageId,
          ...volumeInitArgs<pulumi.Input<string>>({
            uid: args.proxyUid,
            gid: args.proxyGid,
            volumeName: volume.name,
            files: [
              { path: files.caCert, content: authority.certPem },
              { path: files.caKey, content: pulumi.secret(authority.keyPem) },
              ...(files.upstreamCa ? [{ path: files.upstreamCa.path, content: files.upstreamCa.content }] : []),
              ...(credentialFile ? [{ path: EGRESS_CREDENTIALS_NAME, content: credentialFile.content }] : []),
            ],
          }),
          labels: labelList({ "octw.tenant": args.tenantId, "octw.component": "egress-ca-init", "octw.managed-by": "pulumi" }),
        },
        { parent: this, deleteBeforeReplace: true },
      );
      ca = { volume, init, cert: authority.certPem, sha256: authority.sha256 };
    }
    this.proxyContainer = new docker.Container(
      `${name}-proxy`,
      {
        name: dockerName(prefix, args.tenantId, "egress"),
        image: image.imageId,
        hostname: dockerName(prefix, args.tenantId, "egress"),
        ...hardening,
        // The tenant network first: the proxy's fixed address is what the gateway is configured with.
        networksAdvanced: [
          { name: args.tenantNetworkName, ipv4Address: args.proxyAddress },
          { name: args.egressNetworkName },
        ],
        // Not secret: the allowlist is reviewable config. Base64 keeps it one env line. The CA's
        // fingerprint (public) replaces the proxy when the CA is rotated.
        envs: ca
          ? pulumi
              .all([ca.sha256, credentialFile?.versionsSha256])
              .apply(([sha, creds]) => [
                `OCTW_SQUID_CONFIG_B64=${Buffer.from(plan.squidConfig).toString("base64")}`,
                `OCTW_EGRESS_CA_SHA256=${sha}`,
                ...(creds ? [`OCTW_EGRESS_CREDENTIALS_VERSIONS_SHA256=${creds}`] : []),
              ])
          : [`OCTW_SQUID_CONFIG_B64=${Buffer.from(plan.squidConfig).toString("base64")}`],
        ...(ca ? { mounts: [{ type: "volume", source: ca.volume.name, target: EGRESS_CA_DIR, readOnly: true }] } : {}),
        healthcheck: {
          // A TCP connect to the proxy port with perl-base (in every Debian image; no curl needed).
          tests: ["CMD", "/usr/bin/perl", "-MIO::Socket::INET", "-e", `exit(IO::Socket::INET->new(PeerAddr=>q(127.0.0.1:${SQUID_PORT}),Timeout=>2)?0:1)`],
          interval: "10s",
          timeout: "3s",
          startPeriod: "5s",
          retries: 3,
        },
        restart: "unless-stopped",
        destroyGraceSeconds: 5,
        wait: true,
        waitTimeout: ca ? afterSuccessOf(ca.init, `${name}: egress-ca-init`, 60) : 60,
        labels: labelList({ "octw.tenant": args.tenantId, "octw.component": "egress-proxy", "octw.platform": prefix, "octw.managed-by": "pulumi" }),
      },
      { parent: this, deleteBeforeReplace: true, ...(ca ? { dependsOn: [ca.init] } : {}), replaceOnChanges: REPLACE_ON_CHANGES, ignoreChanges: SUSPENDABLE_IGNORE_CHANGES },
    );
    if (ca) this.egressCaCert = ca.cert;
    this.proxyUrl = pulumi.output(plan.proxyUrl);
    this.notEnforced = pulumi.output([...plan.enforced.notEnforced]);
    this.egressRules = pulumi.output(plan.enforced.egress);
    this.plan = plan;
    this.registerOutputs({ proxyUrl: this.proxyUrl, notEnforced: this.notEnforced, egressRules: this.egressRules });
  }

  /** Validates the args and computes the enforcement plan without declaring anything. */
  static plan(name: string, args: SandboxPolicyArgs): SandboxPolicyPlan {
    const subject = `SandboxPolicy "${name}"`;
    const parsed = parseOrThrow(sandboxPolicyArgsSchema, args, subject);
    const problem = imageProblem(parsed.proxyImage, parsed.allowUnpinnedImage ?? false);
    if (problem) throw new OctwConfigError(subject, [{ path: "proxyImage", message: problem }]);
    // The one policy planner the platform uses too: presets + policy merged, enforcement planned,
    // the inference section validated with structured, value-free errors.
    const { enforced, inference } = parsed.planned ?? planTenantPolicy(
      {
        presets: parsed.presets ?? ["restricted"],
        policy: parsed.policy,
        allowUnenforced: parsed.allowUnenforced ?? [],
        ...(parsed.insecureInferenceProvidersForTests ? { insecureProvidersForTests: parsed.insecureInferenceProvidersForTests } : {}),
        ...(parsed.platformNetworks ? { platformNetworks: parsed.platformNetworks } : {}),
      },
      subject,
    );
    const interception = enforced.egress.some((r) => r.l7 !== undefined);
    const boundProviders = [...new Set(enforced.egress.flatMap((r) => (r.credentials ? [r.credentials.provider] : [])))].sort();
    if (boundProviders.length > 0 && parsed.credentialStore === undefined) {
      throw new OctwConfigError(subject, [{ path: "credentialStore", message: "is required: the policy binds credentials (credential_binding), whose secrets the proxy reads from the audit store's tenant_secrets" }]);
    }
    return {
      boundProviders,
      ...(inference ? { inference } : {}),
      enforced,
      squidConfig: renderSquidConfig({
        tenantId: parsed.tenantId,
        rules: enforced.egress,
        ...(inference && parsed.inferenceRouter ? { inferenceRouter: parsed.inferenceRouter } : {}),
        ...(interception ? { tlsInterception: egressInterception(parsed.upstreamCaCerts ?? []).squid } : {}),
        ...(boundProviders.length > 0 ? { credentialsInclude: EGRESS_CREDENTIALS_FILE } : {}),
      }),
      interception,
      proxyUrl: `http://${parsed.proxyAddress}:${SQUID_PORT}`,
      gatewayFilesystem: { tmpfs: enforced.readWritePaths.map((path) => ({ path, sizeMb: path === "/tmp" ? 512 : 256 })) },
    };
  }
}
