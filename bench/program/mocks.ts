/**
 * The mocks every bench/program evaluation runs under: each registration counted, and the few
 * outputs a program reads faked (image ids, generated passwords and bytes). `read` answers a
 * resource that is read rather than created (a StackReference: its outputs). `seen` is told of
 * every registration (child.ts records them for the exact baseline).
 */
import * as pulumi from "@pulumi/pulumi";

export async function installBenchMocks(
  read?: (type: string, name: string) => Record<string, unknown> | undefined,
  seen?: (args: pulumi.runtime.MockResourceArgs) => void,
): Promise<() => number> {
  let registered = 0;
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered++;
        seen?.(args);
        const answer = read?.(args.type, args.name);
        if (answer) return { id: args.name, state: answer };
        const state = { ...(args.inputs as Record<string, unknown>) };
        if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = String((args.inputs as { name?: unknown }).name);
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = `pw-${args.name}`;
        if (args.type === "random:index/randomBytes:RandomBytes") state.base64 = "AAAA";
        return { id: `${args.name}-id`, state };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "bench",
    "bench",
    false,
  );
  return () => registered;
}
