// StackReference under the realizing mock: the outputs of stacks a test has already run, and the
// answer Pulumi gives a program that reads them.
//
// What Pulumi does (the semantics modelled here):
//  - @pulumi/pulumi stackReference.ts (3.270.0): `new StackReference(name, { name })` is a custom
//    resource of type `pulumi:pulumi:StackReference` READ with `id` = the referenced stack's name
//    and inputs `{ name, outputs: undefined, secretOutputNames: undefined }`; its `outputs`
//    property is the referenced stack's outputs (secret as a whole if any output is secret),
//    `getOutput(n)` is `outputs[n]` (undefined if absent), `requireOutput(n)` throws "Required
//    output 'n' does not exist on stack '<stack>'." — both secret exactly when `n` is in
//    `secretOutputNames`;
//  - the engine's builtin provider (pulumi/pulumi pkg/resource/deploy/builtins.go,
//    readStackReference): state `{ name, outputs, secretOutputNames }` with the stack's outputs as
//    the backend holds them (secret values stay secret) and the names of the outputs that contain a
//    secret, sorted; a Read with any input but `name` fails ("unknown property"); a stack the
//    backend does not have fails the read (the CLI's own wording: "no stack named '…' found").
// Reads are not registrations: in a preview they answer with the recorded outputs too, and a
// second run shows no step for them.
import * as pulumi from "@pulumi/pulumi";
import { wrapSecret } from "./secrets";

export const STACK_REFERENCE = "pulumi:pulumi:StackReference";

/** One stack's outputs as the backend holds them: per output its value and whether it is secret. */
export type RecordedOutputs = Record<string, { value: unknown; secret: boolean }>;

/** The outputs of the stacks a test has run ("backend"), answering StackReference reads. */
export class StackOutputStore {
  private readonly stacks = new Map<string, RecordedOutputs>();

  /** Records a stack's outputs under its fully qualified name (`<organization>/<project>/<stack>`). */
  record(stack: string, outputs: RecordedOutputs): void {
    this.stacks.set(stack, outputs);
  }

  /** What the referenced stack holds (for assertions). */
  get(stack: string): RecordedOutputs | undefined {
    return this.stacks.get(stack);
  }

  /** The mock's answer to a StackReference read (`args.type === STACK_REFERENCE`). */
  read(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const inputs = args.inputs as Record<string, unknown>;
    for (const [k, v] of Object.entries(inputs)) {
      if (k !== "name" && v !== undefined) throw new Error(`stack reference "${args.name}": unknown property "${k}"`);
    }
    const name = inputs.name;
    if (typeof name !== "string" || name === "") throw new Error(`stack reference "${args.name}": "name" must be the referenced stack's name (a string)`);
    const held = this.stacks.get(name);
    // the name only (a stack name is no secret); the stacks the test did run help whoever reads the failure
    if (!held) throw new Error(`stack reference "${args.name}": no stack named '${name}' found (stacks run so far: ${[...this.stacks.keys()].join(", ") || "none"})`);
    const outputs = Object.fromEntries(Object.entries(held).map(([k, o]) => [k, o.secret ? wrapSecret(o.value) : o.value]));
    const secretOutputNames = Object.entries(held).filter(([, o]) => o.secret).map(([k]) => k).sort();
    return { id: name, state: { name, outputs, secretOutputNames } };
  }
}

/**
 * A program's stack outputs (what its default export returned), resolved as the engine records
 * them after an `up`: each output's value, secret if any part of it is. Call after the run
 * settled (an unknown value never resolves).
 */
export async function recordedOutputs(exports: Record<string, unknown>): Promise<RecordedOutputs> {
  const entries = await Promise.all(
    Object.entries(exports).map(async ([k, v]) => {
      const out: pulumi.Output<unknown> = pulumi.output(v as pulumi.Input<string>);
      const value = await new Promise<unknown>((resolve) => out.apply((x: unknown) => {
        resolve(x);
        return x;
      }));
      return [k, { value, secret: await pulumi.isSecret(out) }] as const;
    }),
  );
  return Object.fromEntries(entries);
}
