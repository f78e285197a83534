// The sandboxed reader runs as another uid, which must reach the node binary and the reader
// script. In the image both are world-readable; a test checkout need not be (a CI clone inside a
// 0700 `mktemp -d` directory, a pinned node under .octw/node there): the reader then exits 126
// before it reads anything. So the tests run the reader from a copy of both in a directory of
// their own that every uid can traverse — the same node and the same script, only elsewhere.
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface ReaderRuntime {
  node: string;
  script: string;
  remove(): void;
}

export function stageReaderRuntime(): ReaderRuntime {
  const dir = mkdtempSync(path.join(tmpdir(), "octw-reader-runtime-"));
  chmodSync(dir, 0o755);
  const node = path.join(dir, "node");
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  const script = path.join(dir, "jobs-reader.ts");
  copyFileSync(fileURLToPath(new URL("../src/jobs-reader.ts", import.meta.url)), script);
  chmodSync(script, 0o644);
  return { node, script, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
