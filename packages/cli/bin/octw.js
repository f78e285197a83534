#!/usr/bin/env node
// Launcher: the CLI is TypeScript run through tsx (no build step in the monorepo).
import { register } from "tsx/esm/api";

register();
const { run } = await import("../src/main.ts");
process.exitCode = await run(process.argv);
