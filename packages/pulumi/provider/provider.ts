/**
 * @octw/pulumi as a Pulumi component provider: what `pulumi package add` talks to so that
 * Python, Go, .NET and YAML programs can use the components. GetSchema serves schema.json
 * (generated from the TypeScript declarations by generate-schema.ts); Construct builds the
 * component in this process, exactly as a TypeScript program would, and hands back its outputs.
 */
import { readFileSync } from "node:fs";
import type * as pulumi from "@pulumi/pulumi";
import type { ConstructResult, Provider } from "@pulumi/pulumi/provider/index.js";
import * as octw from "../src/index.js";

const schemaText = readFileSync(new URL("./schema.json", import.meta.url), "utf8");
const schema = JSON.parse(schemaText) as { version: string; resources: Record<string, { properties: Record<string, unknown> }> };

type ComponentClass = new (name: string, args: never, opts?: pulumi.ComponentResourceOptions) => pulumi.ComponentResource;

/** Type token → class, for every component the schema lists. */
export const COMPONENTS: Readonly<Record<string, ComponentClass>> = Object.fromEntries(
  Object.keys(schema.resources).map((token) => {
    const cls = (octw as unknown as Record<string, ComponentClass | undefined>)[token.split(":")[2]!];
    if (!cls) throw new Error(`schema.json lists ${token}, which @octw/pulumi does not export: regenerate it`);
    return [token, cls];
  }),
);

export class OctwComponentProvider implements Provider {
  readonly version = schema.version;

  getSchema(): Promise<string> {
    return Promise.resolve(schemaText);
  }

  construct(name: string, type: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions): Promise<ConstructResult> {
    const Component = COMPONENTS[type];
    if (!Component) return Promise.reject(new Error(`type: ${type} is not a component of this package; allowed: ${Object.keys(COMPONENTS).join(", ")}`));
    const resource = new Component(name, inputs as never, options) as unknown as Record<string, unknown> & pulumi.ComponentResource;
    const state = Object.fromEntries(Object.keys(schema.resources[type]!.properties).map((k) => [k, resource[k]]));
    return Promise.resolve({ urn: resource.urn, state: state });
  }
}
