// What the components need from the router, as data: the `inference` section of a tenant's
// SandboxPolicy (zod), the router-config entry for a tenant, and the OpenClaw `models` /
// `secrets` fragments that point the tenant's gateway at the router. @octw/pulumi can import
// these so the policy, the router's config and the gateway's config are derived from one place.
import { createHash } from "node:crypto";
import { z } from "zod";
import { INSECURE_PROVIDERS_ENV, ProviderSchema, TenantLimitsSchema, type ProviderApi, type RouterConfigInput } from "./router-config.js";
import { baseUrlProblem, blockListOf, type DestinationPolicy } from "./provider-destination.js";

/** The router's port on every network it joins. */
export const ROUTER_PORT = 8080;

/**
 * `SandboxPolicy.inference`: which providers and models the tenant's agent may use through the
 * router, and how much. The tenant's keys are NOT here: they are `tenant_secrets` rows
 * (`octw secrets set --tenant <id> --name <keySecret>`), never in config or state.
 */
function inferencePolicySchemaFor(destinations: DestinationPolicy) {
  return z
    .strictObject({
      providers: z.array(ProviderSchema).default([]),
      limits: TenantLimitsSchema.prefault({}),
    })
    .superRefine((p, ctx) => {
      // A policy is tenant input: https and a public host only; the test escape hatch exists
      // only when the operator's program turned it on (see parseInferencePolicy).
      p.providers.forEach((provider, i) => {
        const where = baseUrlProblem(provider.baseUrl, destinations);
        if (where) ctx.addIssue({ code: "custom", path: ["providers", i, "baseUrl"], message: where });
      });
    });
}

export const inferencePolicySchema = inferencePolicySchemaFor({});

export type InferencePolicy = z.input<typeof inferencePolicySchema>;
export type ParsedInferencePolicy = z.output<typeof inferencePolicySchema>;

/** Validates an `inference` section; errors name the field (prefix e.g. `tenants[0].inference`). */
/**
 * The policy schema, with the test hatch (plain-http providers on the listed networks) when the
 * operator's program turned it on: it needs the same env var the router itself requires, and
 * without it the CIDRs are ignored and a policy is judged as always.
 */
export function inferencePolicySchemaWith(insecureProvidersForTests?: readonly string[], platformNetworks?: readonly string[]): typeof inferencePolicySchema {
  const hatch = insecureProvidersForTests?.length && process.env[INSECURE_PROVIDERS_ENV] === "1";
  if (!hatch && !platformNetworks?.length) return inferencePolicySchema;
  return inferencePolicySchemaFor({
    ...(hatch ? { insecureForTests: blockListOf(insecureProvidersForTests) } : {}),
    // The platform's own networks are never a provider, whatever range they are in (an operator
    // may run the platform on public addresses): the router would send the tenant's key there.
    ...(platformNetworks?.length ? { platform: blockListOf(platformNetworks) } : {}),
  });
}

export function parseInferencePolicy(input: unknown, pathPrefix = "inference", insecureProvidersForTests?: readonly string[]): ParsedInferencePolicy {
  const r = inferencePolicySchemaWith(insecureProvidersForTests).safeParse(input ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${[pathPrefix, ...i.path].join(".")}: ${i.message}`);
    throw new Error(`invalid inference policy:\n  ${lines.join("\n  ")}`);
  }
  const names = new Set<string>();
  r.data.providers.forEach((p, i) => {
    if (names.has(p.name)) throw new Error(`invalid inference policy:\n  ${pathPrefix}.providers.${i}.name: "${p.name}" is listed twice`);
    names.add(p.name);
  });
  return r.data;
}

/** SHA-256 (hex) of a router token: what the router's config holds instead of the token. */
export function routerTokenDigest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** One tenant's entry of the router config (`tenants[]`), from its address plan and policy. */
export function routerTenantEntry(args: {
  tenantId: string;
  /** `tenantAddressPlan(...).inferenceRouter` (offset .3). */
  routerAddress: string;
  /** `tenantAddressPlan(...).subnet`. */
  subnet: string;
  /** `routerTokenDigest(routerToken)`; compute it inside an Output's apply. */
  tokenSha256: string;
  inference: ParsedInferencePolicy;
}): RouterConfigInput["tenants"][number] {
  return {
    id: args.tenantId,
    routerAddress: args.routerAddress,
    subnet: args.subnet,
    tokenSha256: args.tokenSha256,
    providers: args.inference.providers,
    limits: args.inference.limits,
  };
}

/** OpenClaw's provider `api` for each request shape the router speaks. */
const OPENCLAW_API: Record<ProviderApi, string> = { openai: "openai-completions", anthropic: "anthropic-messages" };

/** Name of the OpenClaw secrets provider that reads the router token file. */
export const OPENCLAW_TOKEN_SECRET_PROVIDER = "octwrouter";

/**
 * The `models` and `secrets` parts of the tenant gateway's openclaw.json: one model provider
 * per allowed provider, pointing at the router on the tenant's network; the API key is the
 * tenant's router token, read by OpenClaw from the 0400 file the TenantGateway writes (a
 * SecretRef, so the token is not in openclaw.json). The provider's real host appears nowhere.
 */
export function openclawModelsConfig(args: { routerAddress: string; tokenFile: string; inference: ParsedInferencePolicy; port?: number }): {
  models: { mode: "replace"; providers: Record<string, { baseUrl: string; api: string; apiKey: { source: "file"; provider: string; id: string }; models: { id: string; name: string }[] }> };
  secrets: { providers: Record<string, { source: "file"; path: string; mode: "singleValue" }> };
} {
  const origin = `http://${args.routerAddress}:${args.port ?? ROUTER_PORT}`;
  const providers: Record<string, { baseUrl: string; api: string; apiKey: { source: "file"; provider: string; id: string }; models: { id: string; name: string }[] }> = {};
  for (const p of args.inference.providers) {
    providers[p.name] = {
      // OpenAI SDKs append /chat/completions to a base ending in /v1; Anthropic SDKs append /v1/messages.
      baseUrl: p.api === "openai" ? `${origin}/${p.name}/v1` : `${origin}/${p.name}`,
      api: OPENCLAW_API[p.api],
      apiKey: { source: "file", provider: OPENCLAW_TOKEN_SECRET_PROVIDER, id: "value" },
      models: p.models.map((id) => ({ id, name: id })),
    };
  }
  return {
    // "replace": only the router's providers exist, so no built-in provider sends the agent straight out.
    models: { mode: "replace", providers },
    secrets: { providers: { [OPENCLAW_TOKEN_SECRET_PROVIDER]: { source: "file", path: args.tokenFile, mode: "singleValue" } } },
  };
}

/**
 * Provider hosts that are also on the tenant's egress allowlist. The sandbox must never reach
 * a provider directly (it would bypass the router's allowlist, limits and audit, and invite the
 * agent to use a key of its own): a component should refuse a policy for which this is not
 * empty. `egress` takes the enforced rules (`{ host, ports }`, wildcards as `*.example.com`).
 */
export function inferenceEgressConflicts(inference: ParsedInferencePolicy, egress: readonly { host: string; ports: readonly number[] }[]): string[] {
  const out: string[] = [];
  for (const p of inference.providers) {
    const u = new URL(p.baseUrl);
    const host = u.hostname.toLowerCase();
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    for (const r of egress) {
      const h = r.host.toLowerCase();
      const matches = h === host || (h.startsWith("*.") && host.endsWith(h.slice(1)) && host.split(".").length === h.split(".").length);
      if (matches && r.ports.includes(port)) out.push(`inference provider "${p.name}" (${host}:${port}) is also allowed as egress by ${r.host}:${r.ports.join(",")}`);
    }
  }
  return out;
}
