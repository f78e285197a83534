import type * as nodeHttp from "node:http";
import * as pulumi from "@pulumi/pulumi";

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
}

interface AttachmentInputs {
  container: string;
  network: string;
  ipv4Address: string;
}

// Dynamic providers are serialized into the state: everything is `require`d inside the
// function bodies. The Engine API is spoken directly over the socket (DOCKER_HOST, default
// /var/run/docker.sock), so the provider needs no dependency.
declare const require: (id: string) => unknown;

async function engine(method: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
  const http = require("node:http") as typeof nodeHttp;
  const host = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  if (!host.startsWith("unix://")) throw new Error(`NetworkAttachment: DOCKER_HOST ${host} is not a unix socket; only unix sockets are supported`);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: host.slice("unix://".length), method, path, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: AttachmentInputs) {
    const r = await engine("POST", `/networks/${encodeURIComponent(inputs.network)}/connect`, {
      Container: inputs.container,
      EndpointConfig: { IPAMConfig: { IPv4Address: inputs.ipv4Address } },
    });
    if (r.status !== 200) throw new Error(`attaching ${inputs.container} to ${inputs.network}: engine answered ${r.status} ${r.text.trim()}`);
    return { id: `${inputs.network}/${inputs.container}`, outs: inputs };
  },
  async delete(_id: string, props: AttachmentInputs) {
    const r = await engine("POST", `/networks/${encodeURIComponent(props.network)}/disconnect`, { Container: props.container, Force: true });
    // Already gone (network or container removed first) is fine: the attachment no longer exists.
    if (r.status !== 200 && r.status !== 404) throw new Error(`detaching ${props.container} from ${props.network}: engine answered ${r.status} ${r.text.trim()}`);
  },
  diff(_id: string, olds: AttachmentInputs, news: AttachmentInputs) {
    const replaces = (["container", "network", "ipv4Address"] as const).filter((k) => olds[k] !== news[k]);
    return Promise.resolve({ changes: replaces.length > 0, replaces, deleteBeforeReplace: true });
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
