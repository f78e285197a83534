// Evaluates index.ts under pulumi.runtime.setMocks, as `pulumi preview` would run it, and
// checks what it declared. Exits non-zero on any mismatch.
import * as pulumi from "@pulumi/pulumi";

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}
const declared: Declared[] = [];

async function main(): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        declared.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "consumer",
    "dev",
    false,
  );
  const program = await import("./index.js");
  const url = await new Promise<string>((ok) => program.gatewayUrl.apply((u) => ok(u)));
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();

  const gateways = declared
    .filter((r) => r.type === "docker:index/container:Container")
    .map((r) => String(r.inputs.name))
    .filter((n) => n.endsWith("-gateway"))
    .sort();
  const expected = ["piece-initech-gateway", "prod-acme-gateway", "prod-globex-gateway"];
  const components = new Set(declared.filter((r) => r.type.startsWith("octw:")).map((r) => r.type));
  const problems: string[] = [];
  if (JSON.stringify(gateways) !== JSON.stringify(expected)) problems.push(`gateway containers ${JSON.stringify(gateways)}, expected ${JSON.stringify(expected)}`);
  for (const t of ["octw:index:OpenClawPlatform", "octw:index:TenantGateway", "octw:index:TenantNetwork", "octw:index:SandboxPolicy", "octw:index:AuditStore"]) {
    if (!components.has(t)) problems.push(`no ${t} declared`);
  }
  if (!url.startsWith("http://")) problems.push(`gatewayUrl is not an http URL`);
  if (problems.length > 0) {
    console.error(`consumer check failed:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`consumer check ok: ${declared.length} resources, gateways ${gateways.join(", ")}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
