// One JSON object per line on stdout: what the container runtime collects and the tests read.
export type Log = (line: Record<string, unknown>) => void;

export function jsonLog(component: string): Log {
  return (line) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component, ...line })}\n`);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
