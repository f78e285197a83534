import * as pulumi from "@pulumi/pulumi";
import { engineRequest, type EngineConnection } from "./engine-request.js";

export interface NetworkAttachmentArgs {
  /**
   * Id of a running container (a shared service such as the edge). Pass the id, not the name:
   * when the container is replaced its id changes, which replaces the attachment too.
   */
  container: pulumi.Input<string>;
  /** Name of the network to attach it to (a tenant network). */
  network: pulumi.Input<string>;
  /** The fixed address the container gets on that network. */
  ipv4Address: pulumi.Input<string>;
  /**
   * The engine both live on: the endpoint and credentials of their host's `docker.Provider`.
   * @default - the program's own engine (DOCKER_HOST, else unix:///var/run/docker.sock)
   */
  engine?: pulumi.Input<EngineConnection>;
}

interface AttachmentInputs {
  container: string;
  network: string;
  ipv4Address: string;
  engine?: EngineConnection;
}

async function engine(inputs: AttachmentInputs, path: string, body: unknown): Promise<{ status: number; text: string }> {
  return engineRequest(inputs.engine, "POST", path, { type: "application/json", data: Buffer.from(JSON.stringify(body)) });
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: AttachmentInputs) {
    const r = await engine(inputs, `/networks/${encodeURIComponent(inputs.network)}/connect`, {
      Container: inputs.container,
      EndpointConfig: { IPAMConfig: { IPv4Address: inputs.ipv4Address } },
    });
    if (r.status !== 200) throw new Error(`attaching ${inputs.container} to ${inputs.network}: engine answered ${r.status} ${r.text.trim()}`);
    return { id: `${inputs.network}/${inputs.container}`, outs: inputs };
  },
  async delete(_id: string, props: AttachmentInputs) {
    const r = await engine(props, `/networks/${encodeURIComponent(props.network)}/disconnect`, { Container: props.container, Force: true });
    // Already gone (network or container removed first) is fine: the attachment no longer exists.
    if (r.status !== 200 && r.status !== 404) throw new Error(`detaching ${props.container} from ${props.network}: engine answered ${r.status} ${r.text.trim()}`);
  },
  diff(_id: string, olds: AttachmentInputs, news: AttachmentInputs) {
    const replaces: string[] = (["container", "network", "ipv4Address"] as const).filter((k) => olds[k] !== news[k]);
    // Another engine is another attachment; new credentials for the same engine are an update
    // that only records them (the delete must use credentials that still work).
    if (olds.engine?.host !== news.engine?.host) replaces.push("engine");
    const changes = replaces.length > 0 || JSON.stringify(olds.engine ?? null) !== JSON.stringify(news.engine ?? null);
    return Promise.resolve({ changes, replaces, deleteBeforeReplace: true });
  },
  update(_id: string, _olds: AttachmentInputs, news: AttachmentInputs) {
    return Promise.resolve({ outs: news });
  },
};

/**
 * Attaches a running shared container (the edge, the inference router) to one tenant network
 * at a fixed address, as a resource of its own: adding or removing a tenant adds or removes an
 * attachment, and never replaces or restarts the shared container (pulumi-docker's
 * `networksAdvanced` would replace it).
 */
export class NetworkAttachment extends pulumi.dynamic.Resource {
  constructor(name: string, args: NetworkAttachmentArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args }, { ...opts, deleteBeforeReplace: true });
  }
}
