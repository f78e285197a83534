// The edge as the benchmark runs it: the real createEdge with the config from $BENCH_EDGE_CONFIG,
// and an audit sink that only counts (the benchmark measures the edge, not Postgres). With
// BENCH_EDGE_WORKERS above 1 it is the multi-worker edge main.ts runs: this process is the
// primary (counting sink, rate limits, wake) and forks the workers.
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { parseEdgeConfig } from "@octw/contracts";
import { createEdge, type AuditSink } from "@octw/edge";
import { startEdgePrimary } from "../../packages/edge/src/cluster-primary";
import { runEdgeWorker } from "../../packages/edge/src/cluster-worker";

let events = 0;
const sink: AuditSink = { record: () => ((events += 1), Promise.resolve()) };
const workers = Number(process.env.BENCH_EDGE_WORKERS ?? 1);
if (cluster.isWorker) {
  runEdgeWorker({ log: () => {}, secrets: () => ({}) });
} else {
  const raw: unknown = JSON.parse(readFileSync(process.env.BENCH_EDGE_CONFIG!, "utf8"));
  const config = parseEdgeConfig(raw);
  let close: () => Promise<void>;
  let port: number;
  if (workers > 1) {
    const primary = await startEdgePrimary({ raw, config }, { workers, log: () => {}, sink });
    port = primary.address.port;
    close = () => primary.drain();
  } else {
    const edge = await createEdge(config, { audit: sink });
    port = (await edge.listen()).port;
    close = () => edge.close();
  }
  process.stdout.write(`listening ${port}\n`);
  process.on("SIGTERM", () => {
    void close().then(() => {
      process.stdout.write(`audit events ${events}\n`);
      process.exit(0);
    });
  });
}
