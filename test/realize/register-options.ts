// The mock monitor hands `Mocks.newResource` only a resource's type, name, inputs, provider and
// id. The engine gets more with every registration — the URN, the parent, the dependencies and
// the resource options (deleteBeforeReplace, retainOnDelete, protect, ignoreChanges,
// replaceOnChanges) — and those decide what an update does: the order of a replacement, whether
// a delete reaches the provider, whether it is refused. The realizing deployment models the
// engine, so it needs them: this wraps the mock monitor's registerResource to read them off the
// request just before it calls `newResource` (synchronously, before its first await — see
// @pulumi/pulumi runtime/mocks.js MockMonitor.registerResource), and hands them over through
// `takeRegisterOptions()`, which `newResource` calls first thing.
import { createRequire } from "node:module";

export interface RegisterOptions {
  urn: string;
  parent: string;
  /** URNs of the resources this one depends on (dependsOn and the inputs' resources) */
  dependencies: string[];
  /** per input property, the URNs of the resources its value came from */
  propertyDependencies: Record<string, string[]>;
  deleteBeforeReplace: boolean;
  retainOnDelete: boolean;
  protect: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void };
  getDeletebeforereplace(): boolean;
  getRetainondelete(): boolean | undefined;
  getProtect(): boolean | undefined;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
}

interface MockMonitorProto {
  registerResource(this: MockMonitorLike, req: RegisterRequest, cb: unknown): Promise<void>;
}
interface MockMonitorLike {
  newUrn(parent: string, type: string, name: string): string;
}

let current: RegisterOptions | undefined;
let installed = false;

/** Idempotent: wraps MockMonitor.prototype.registerResource once per process. */
export function installRegisterOptionCapture(): void {
  if (installed) return;
  // @pulumi/pulumi has no exports map; its CommonJS runtime module is the one the SDK uses.
  const req = createRequire(import.meta.url);
  const mod = req("@pulumi/pulumi/runtime/mocks.js") as { MockMonitor: { prototype: MockMonitorProto } };
  const proto = mod.MockMonitor.prototype;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with .call below
  const original = proto.registerResource;
  proto.registerResource = function (this: MockMonitorLike, r: RegisterRequest, cb: unknown) {
    const propertyDependencies: Record<string, string[]> = {};
    r.getPropertydependenciesMap().forEach((v, k) => {
      propertyDependencies[k] = v.getUrnsList();
    });
    current = {
      urn: this.newUrn(r.getParent(), r.getType(), r.getName()),
      parent: r.getParent(),
      dependencies: r.getDependenciesList(),
      propertyDependencies,
      deleteBeforeReplace: r.getDeletebeforereplace(),
      retainOnDelete: r.getRetainondelete() ?? false,
      protect: r.getProtect() ?? false,
      ignoreChanges: r.getIgnorechangesList(),
      replaceOnChanges: r.getReplaceonchangesList(),
    };
    return original.call(this, r, cb);
  };
  installed = true;
}

/** The options of the registration now calling `newResource`; undefined for reads and invokes. */
export function takeRegisterOptions(): RegisterOptions | undefined {
  const c = current;
  current = undefined;
  return c;
}
