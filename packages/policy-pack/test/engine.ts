/**
 * Runs the pack's policies the way the engine's analyzer host does (@pulumi/policy server.js
 * makeAnalyzeRpcFun / makeAnalyzeStackRpcFun), without the Pulumi CLI:
 *  - per policy, the enforcement level from the pack config, else the policy's, else the pack's;
 *    "disabled" skips it;
 *  - `analyze`: every resource, one by one, with args { type, props, urn, name, opts, stackTags,
 *    isType, asType, getConfig, notApplicable }, props behind @pulumi/policy's own
 *    unknown-checking proxy (a read of an unknown value fails that policy as advisory);
 *  - `analyzeStack`: all resources with parent, dependencies and propertyDependencies linked as
 *    resource objects;
 *  - getConfig returns the policy's config without enforcementLevel.
 * What only the CLI adds is in the package README.
 */
import type { EnforcementLevel, Policies, PolicyResource, ResourceValidation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import * as proxyModule from "@pulumi/policy/proxy.js";
import type { EngineResource } from "./stack-under-mocks.js";

const { unknownCheckingProxy, UnknownValueError } = proxyModule as unknown as {
  unknownCheckingProxy: <T extends object>(o: T) => T;
  UnknownValueError: new (...args: never[]) => Error;
};

export interface Violation {
  policy: string;
  enforcementLevel: EnforcementLevel;
  message: string;
  urn?: string;
}

export type PackConfig = Record<string, { enforcementLevel?: EnforcementLevel; [k: string]: unknown }>;

class NotApplicable extends Error {}

function levelOf(p: { name: string; enforcementLevel?: EnforcementLevel }, config: PackConfig, packLevel: EnforcementLevel): EnforcementLevel {
  const level = config[p.name]?.enforcementLevel ?? p.enforcementLevel ?? packLevel;
  return level === "remediate" ? "mandatory" : level;
}

function configOf(name: string, config: PackConfig): () => Record<string, unknown> {
  return () => {
    const { enforcementLevel: _l, ...rest } = config[name] ?? {};
    return rest;
  };
}

const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason);
};

export async function analyze(policies: Policies, resources: readonly EngineResource[], config: PackConfig = {}, packLevel: EnforcementLevel = "mandatory"): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const p of policies) {
    const level = levelOf(p, config, packLevel);
    if (level === "disabled") continue;
    const report = (message: string, urn?: string) => out.push({ policy: p.name, enforcementLevel: level, message, ...(urn ? { urn } : {}) });
    const rv = (p as Partial<ResourceValidationPolicy>).validateResource;
    const validations: ResourceValidation[] = rv === undefined ? [] : Array.isArray(rv) ? rv : [rv];
    if (validations.length > 0) {
      for (const r of resources) {
        for (const validate of validations) {
          const props = unknownCheckingProxy(structuredClone(r.props));
          try {
            await validate(
              {
                type: r.type,
                props,
                urn: r.urn,
                name: r.name,
                opts: r.opts,
                stackTags: new Map(),
                isType: () => false,
                asType: () => undefined,
                getConfig: configOf(p.name, config) as never,
                notApplicable,
              },
              report,
            );
          } catch (e) {
            if (e instanceof UnknownValueError) out.push({ policy: p.name, enforcementLevel: "advisory", message: `can't run policy during preview: ${(e).message}`, urn: r.urn });
            else if (!(e instanceof NotApplicable)) throw e;
          }
        }
      }
    }
    const validateStack = (p as Partial<StackValidationPolicy>).validateStack;
    if (validateStack) {
      const byUrn = new Map<string, PolicyResource>();
      const linked = resources.map((r) => {
        const props = unknownCheckingProxy(structuredClone(r.props));
        const pr: PolicyResource = { type: r.type, props, urn: r.urn, name: r.name, opts: r.opts, dependencies: [], propertyDependencies: {}, isType: () => false, asType: () => undefined };
        byUrn.set(r.urn, pr);
        return pr;
      });
      resources.forEach((r, i) => {
        const pr = linked[i]!;
        const parent = r.parent ? byUrn.get(r.parent) : undefined;
        if (parent) pr.parent = parent;
        pr.dependencies = r.dependencies.map((d) => byUrn.get(d)).filter((d): d is PolicyResource => d !== undefined);
        for (const [k, urns] of Object.entries(r.propertyDependencies)) pr.propertyDependencies[k] = urns.map((d) => byUrn.get(d)).filter((d): d is PolicyResource => d !== undefined);
      });
      try {
        await validateStack({ resources: linked, stackTags: new Map(), getConfig: configOf(p.name, config) as never, notApplicable }, report);
      } catch (e) {
        if (e instanceof UnknownValueError) out.push({ policy: p.name, enforcementLevel: "advisory", message: `can't run policy during preview: ${(e).message}` });
        else if (!(e instanceof NotApplicable)) throw e;
      }
    }
  }
  return out;
}
