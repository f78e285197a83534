// The test environment's coordinates (docs/contracts.md, "Test environment"). A missing variable
// or engine is a failure, never a skip.
import Dockerode from "dockerode";

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run scripts/test-env.sh and export .octw/test-env.env (see docs/contracts.md)`);
  }
  return v;
}

export async function engine(): Promise<Dockerode> {
  const host = requireEnv("DOCKER_HOST");
  if (!host.startsWith("unix://")) throw new Error(`DOCKER_HOST (${host}) must be a unix socket (unix:///…)`);
  const docker = new Dockerode({ socketPath: host.slice("unix://".length) });
  try {
    await docker.ping();
  } catch (e) {
    throw new Error(`the Docker engine at ${host} does not answer: ${String(e)}`);
  }
  return docker;
}

/** Resolves an Output's value in a mock run (the program runs with preview=false). */
export function valueOf<T>(o: { apply<U>(f: (t: T) => U): unknown }): Promise<T> {
  return new Promise<T>((resolve) => {
    o.apply((v: T) => {
      resolve(v);
      return v;
    });
  });
}

const IMAGE_ENV = {
  openclaw: "OCTW_IMAGE_OPENCLAW",
  egressProxy: "OCTW_IMAGE_EGRESS",
  postgres: "OCTW_IMAGE_POSTGRES",
  edge: "OCTW_IMAGE_EDGE",
  inferenceRouter: "OCTW_IMAGE_INFERENCE_ROUTER",
  egressAudit: "OCTW_IMAGE_EGRESS_AUDIT",
  waker: "OCTW_IMAGE_WAKER",
} as const;

/** The platform's `images` from the test environment's locally built images (each one required). */
export function imagesFromEnv<K extends keyof typeof IMAGE_ENV>(...keys: K[]): Record<K, string> {
  return Object.fromEntries(keys.map((k) => [k, requireEnv(IMAGE_ENV[k])])) as Record<K, string>;
}
