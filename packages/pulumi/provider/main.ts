/**
 * The plugin's entry point (PulumiPlugin.yaml; the package's `main`): the engine, through the
 * nodejs language host, runs it with its own address as the argument, reads the port this prints,
 * and speaks the ResourceProvider protocol to it.
 */
import { main } from "@pulumi/pulumi/provider/index.js";
import { OctwComponentProvider } from "./provider.js";

await main(new OctwComponentProvider(), process.argv.slice(2));
