/**
 * Evaluates Pulumi programs under `pulumi.runtime.setMocks` and keeps, per registered resource,
 * what the engine hands a policy pack: type, name, URN, inputs (secrets unwrapped, as
 * @pulumi/policy deserializes them), parent, dependencies, property dependencies and options.
 * The mock monitor gives `newResource` only type, name and inputs; the rest is read off the
 * registration request (test/realize/register-options.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { installRegisterOptionCapture, takeRegisterOptions } from "../../../test/realize/register-options.js";
import { MockRecorder, settle } from "../../pulumi/test/harness.js";

export interface EngineResource {
  type: string;
  name: string;
  urn: string;
  custom: boolean;
  props: Record<string, unknown>;
  parent?: string;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  opts: { protect: boolean; ignoreChanges: string[]; deleteBeforeReplace?: boolean; aliases: string[]; additionalSecretOutputs: string[]; parent?: string; customTimeouts: { createSeconds: number; updateSeconds: number; deleteSeconds: number } };
}

export class StackRecorder {
  readonly recorder = new MockRecorder();
  resources: EngineResource[] = [];

  readonly mocks: pulumi.runtime.Mocks = {
    newResource: (args) => {
      const reg = takeRegisterOptions();
      const result = this.recorder.mocks.newResource(args);
      const rec = this.recorder.resources.at(-1)!;
      const urn = reg?.urn ?? `urn:pulumi:test::octw::${args.type}::${args.name}`;
      this.resources.push({
        type: args.type,
        name: args.name,
        urn,
        custom: args.custom ?? true,
        props: rec.inputs,
        ...(reg?.parent ? { parent: reg.parent } : {}),
        dependencies: reg?.dependencies ?? [],
        propertyDependencies: reg?.propertyDependencies ?? {},
        opts: {
          protect: reg?.protect ?? false,
          ignoreChanges: reg?.ignoreChanges ?? [],
          deleteBeforeReplace: reg?.deleteBeforeReplace ?? false,
          aliases: [],
          additionalSecretOutputs: [],
          ...(reg?.parent ? { parent: reg.parent } : {}),
          customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        },
      });
      return result;
    },
    call: (args) => this.recorder.mocks.call(args),
  };

  async install(project = "octw", stack = "local"): Promise<void> {
    installRegisterOptionCapture();
    await pulumi.runtime.setMocks(this.mocks, project, stack, true);
  }

  /** Runs `program` (declares resources, e.g. imports a program module) and returns what it registered. */
  async evaluate(program: () => Promise<unknown>): Promise<EngineResource[]> {
    this.resources = [];
    this.recorder.reset();
    await program();
    await settle();
    return this.resources;
  }
}
