// The edge as the benchmark runs it: the real createEdge with the config from $BENCH_EDGE_CONFIG,
// and an audit sink that only counts (the benchmark measures the edge, not Postgres).
import { readFileSync } from "node:fs";
import { parseEdgeConfig } from "@octw/contracts";
import { createEdge, type AuditSink } from "@octw/edge";

let events = 0;
const sink: AuditSink = { record: () => ((events += 1), Promise.resolve()) };
const config = parseEdgeConfig(JSON.parse(readFileSync(process.env.BENCH_EDGE_CONFIG!, "utf8")));
const edge = await createEdge(config, { audit: sink });
const addr = await edge.listen();
process.stdout.write(`listening ${addr.port}\n`);
process.on("SIGTERM", () => {
  void edge.close().then(() => {
    process.stdout.write(`audit events ${events}\n`);
    process.exit(0);
  });
});
