import * as pulumi from "@pulumi/pulumi";
import { engineRequest, type EngineConnection } from "./engine-request.js";

export interface ServiceConfigFileArgs {
  /**
   * Id of a container that mounts the service's state volume writable — the service's exited
   * init container. The file is written through it, so the long-lived service stays read-only
   * and is never restarted or replaced for a config change.
   */
  container: pulumi.Input<string>;
  /** Absolute path of the file inside that container, in an existing directory. */
  path: pulumi.Input<string>;
  /** The file's content (not secret: it lands in the state in plain text). */
  content: pulumi.Input<string>;
  /** Owner and mode of the file. */
  uid: pulumi.Input<number>;
  gid: pulumi.Input<number>;
  mode: pulumi.Input<number>;
  /**
   * The engine the container lives on: the endpoint and credentials of its host's `docker.Provider`.
   * @default - the program's own engine (DOCKER_HOST, else unix:///var/run/docker.sock)
   */
  engine?: pulumi.Input<EngineConnection>;
}

interface FileInputs {
  container: string;
  path: string;
  content: string;
  uid: number;
  gid: number;
  mode: number;
  engine?: EngineConnection;
}

// Dynamic providers are serialized into the state: everything they use is serialized with them.
// The Engine API is spoken to the container's engine (engineRequest), as NetworkAttachment does.

/** One ustar entry (a regular file) and the two zero blocks that end an archive. */
function tarOf(name: string, content: string, uid: number, gid: number, mode: number): Buffer {
  const body = Buffer.from(content, "utf8");
  const header = Buffer.alloc(512, 0);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
  const octal = (n: number, length: number) => `${n.toString(8).padStart(length - 1, "0")}\0`;
  field(0, 100, name);
  field(100, 8, octal(mode, 8));
  field(108, 8, octal(uid, 8));
  field(116, 8, octal(gid, 8));
  field(124, 12, octal(body.length, 12));
  field(136, 12, octal(Math.floor(Date.now() / 1000), 12));
  field(148, 8, "        ");
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512, 0);
  return Buffer.concat([header, body, pad, Buffer.alloc(1024, 0)]);
}

async function putFile(inputs: FileInputs): Promise<void> {
  const slash = inputs.path.lastIndexOf("/");
  if (!inputs.path.startsWith("/") || slash <= 0) throw new Error(`ServiceConfigFile: path ${inputs.path} must be absolute, in a directory`);
  const archive = tarOf(inputs.path.slice(slash + 1), inputs.content, inputs.uid, inputs.gid, inputs.mode);
  const dir = inputs.path.slice(0, slash);
  const status = await engineRequest(inputs.engine, "PUT", `/containers/${encodeURIComponent(inputs.container)}/archive?path=${encodeURIComponent(dir)}`, { type: "application/x-tar", data: archive });
  if (status.status !== 200) throw new Error(`writing ${inputs.path} through ${inputs.container}: engine answered ${status.status} ${status.text.trim()}`);
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: FileInputs) {
    await putFile(inputs);
    return { id: `${inputs.container}:${inputs.path}`, outs: inputs };
  },
  async update(_id: string, _olds: FileInputs, news: FileInputs) {
    await putFile(news);
    return { outs: news };
  },
  diff(_id: string, olds: FileInputs, news: FileInputs) {
    // A new container (a replaced init container) or path is a new file: written again there.
    const replaces: string[] = (["container", "path"] as const).filter((k) => olds[k] !== news[k]);
    // Another engine holds another file; new credentials for the same engine rewrite it (an update).
    if (olds.engine?.host !== news.engine?.host) replaces.push("engine");
    const changes = replaces.length > 0 || (["content", "uid", "gid", "mode"] as const).some((k) => olds[k] !== news[k]) || JSON.stringify(olds.engine ?? null) !== JSON.stringify(news.engine ?? null);
    return Promise.resolve({ changes, replaces, deleteBeforeReplace: false });
  },
  // Deleting leaves the file: the service keeps its last config until its volume goes.
  async delete() {},
};

/**
 * One config file of a running shared service, written into its state volume through the
 * service's exited init container (an Engine API archive PUT) and rewritten in place when its
 * content changes: the service re-reads it, and is neither restarted nor replaced. Used for the
 * inference router's tenant list, which changes whenever a tenant is added or removed — an
 * in-place update of this one resource, where re-delivering it through the init container would
 * replace that container.
 */
export class ServiceConfigFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: ServiceConfigFileArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args }, opts);
  }
}
