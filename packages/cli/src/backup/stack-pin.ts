// The placement of a tenant is its pin, `tenants[].host`, in the stack config file
// (stacks/Pulumi.<stack>.yaml) — as `octw approvals approve --stack-file` writes a tenant's
// egress rule there: the change is the operator's reviewed config, applied by `pulumi up`.
// Only that tenant's `host` is touched; every other byte of the file stays as it was.
import { isScalar, parseDocument, type Scalar } from "yaml";
import { columnOf, tenantNode } from "../commands/approvals";

/** The tenant's current pin (undefined: unpinned, i.e. on the first host). */
export function pinOf(text: string, tenant: string): string | undefined {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`stack file: not valid YAML (${doc.errors[0]!.message.split("\n")[0]})`);
  const v = tenantNode(doc, tenant).get("host");
  if (v !== undefined && typeof v !== "string") throw new Error(`stack file: tenants[id=${tenant}].host: must be a host name`);
  return v;
}

/** Returns the file's text with `tenant` pinned to `host`. */
export function pinInStackFile(text: string, tenant: string, host: string): string {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(host)) throw new Error("--to: must be a host name (a-z, 0-9, -)");
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length) throw new Error(`stack file: not valid YAML (${doc.errors[0]!.message.split("\n")[0]})`);
  const t = tenantNode(doc, tenant);
  if (t.flow) throw new Error(`stack file: tenants[id=${tenant}] is written in flow style ({ … }); write it as a block mapping to let the CLI pin it`);
  const quoted = JSON.stringify(host);
  const pair = t.items.find((p) => isScalar(p.key) && p.key.value === "host");
  let out: string;
  if (pair) {
    const v = pair.value as Scalar | null;
    if (!isScalar(v) || !v.range) throw new Error(`stack file: tenants[id=${tenant}].host: must be a host name`);
    out = text.slice(0, v.range[0]) + quoted + text.slice(v.range[1]);
  } else {
    const id = t.items.find((p) => isScalar(p.key) && p.key.value === "id")!;
    const key = id.key as Scalar;
    const val = id.value as Scalar;
    if (!key.range || !val.range) throw new Error(`stack file: no source position for tenant "${tenant}"`);
    const eol = text.indexOf("\n", val.range[1]);
    const at = eol < 0 ? text.length : eol + 1;
    out = text.slice(0, at) + (eol < 0 ? "\n" : "") + " ".repeat(columnOf(text, key.range[0])) + `host: ${quoted}\n` + text.slice(at);
  }
  if (pinOf(out, tenant) !== host) throw new Error(`stack file: could not pin tenant "${tenant}" (the edited file does not read back)`);
  return out;
}
