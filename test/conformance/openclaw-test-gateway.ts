// A real OpenClaw gateway for docker tests that need one without the whole platform: its state
// volume prepared as the platform prepares it (0700, the gateway user's, openclaw.json in it)
// and a hardened container with no network (the tests talk to it through `docker exec`).
import type Dockerode from "dockerode";

/** The OpenClaw image's own user, which these test gateways run as. */
export const TEST_GATEWAY_USER = "10001:10001";

/** Writes `configJson` as the volume's openclaw.json, the volume 0700 and the gateway user's. */
export async function writeGatewayState(docker: Dockerode, image: string, volume: string, configJson: string, run: string): Promise<void> {
  const init = await docker.createContainer({
    Image: image,
    User: "0:0",
    Entrypoint: ["sh", "-c", 'printf %s "$CFG" > /v/openclaw.json && chown -R 10001:10001 /v && chmod 700 /v && chmod 600 /v/openclaw.json'],
    Env: [`CFG=${configJson}`],
    Labels: { "octw.test": run },
    HostConfig: { Binds: [`${volume}:/v`], NetworkMode: "none" },
  });
  await init.start();
  await init.wait();
  await init.remove();
}

/** HostConfig of a test gateway on `volume`: read-only root, no capability, no network. */
export function gatewayHostConfig(volume: string): Dockerode.HostConfig {
  return {
    Binds: [`${volume}:/var/lib/openclaw`],
    NetworkMode: "none",
    ReadonlyRootfs: true,
    Tmpfs: { "/tmp": "rw,nosuid,nodev,size=256m" },
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    Memory: 1536 * 1024 * 1024,
  };
}
