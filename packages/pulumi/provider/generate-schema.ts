/**
 * The Pulumi package schema of @octw/pulumi, derived from the TypeScript sources with the
 * compiler's type checker, so every component's inputs carry the documentation and defaults of
 * their declarations. Every component's args type is a zod schema's z.input (ZOD_ARGS): the
 * schema's metadata documents the fields — `description`, `default` (a JSON value) or
 * `defaultText` (said in words), and `id` naming an object type. A type the schema leaves to
 * TypeScript (z.custom<T>) and the components' outputs are documented by their JSDoc (text and
 * `@default`). A default that is a JSON primitive becomes `default`, any other goes into the
 * description.
 * Written to schema.json, which the component provider serves (provider.ts); a test
 * regenerates it and requires the committed file to be current.
 *
 *   tsx packages/pulumi/provider/generate-schema.ts [--check]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { z } from "zod";
import { platformConfigSchema } from "../src/planners/platform-config.js";
import { tenantAuditReaderArgsSchema } from "../src/components/tenant-audit-reader.js";
import { tenantNetworkArgsSchema } from "../src/components/tenant-network.js";
import { tenantGatewayArgsSchema } from "../src/components/tenant-gateway.js";
import { sandboxPolicyArgsSchema } from "../src/components/sandbox-policy.js";
import { auditStoreArgsSchema } from "../src/components/audit-store.js";
import { edgeArgsSchema } from "../src/components/edge.js";
import { egressAuditShipperArgsSchema } from "../src/components/egress-audit-shipper.js";
import { inferenceRouterArgsSchema } from "../src/components/inference-router.js";
import { wakerArgsSchema } from "../src/components/waker.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const PKG = join(HERE, "..");
const ENTRY = join(PKG, "src", "index.ts");
export const SCHEMA_FILE = join(HERE, "schema.json");
const PACKAGE = "octw";

type Spec = Record<string, unknown>;

/** Every component's args schema: its args type is the z.input of it, and it documents the fields. */
const ZOD_ARGS: Record<string, z.ZodType> = {
  OpenClawPlatform: platformConfigSchema,
  TenantAuditReader: tenantAuditReaderArgsSchema,
  TenantNetwork: tenantNetworkArgsSchema,
  TenantGateway: tenantGatewayArgsSchema,
  SandboxPolicy: sandboxPolicyArgsSchema,
  AuditStore: auditStoreArgsSchema,
  Edge: edgeArgsSchema,
  EgressAuditShipper: egressAuditShipperArgsSchema,
  InferenceRouter: inferenceRouterArgsSchema,
  Waker: wakerArgsSchema,
};

type ZodNode = z.core.$ZodType;
const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "nonoptional", "catch"]);

/** The schema under optional/default/readonly/pipe wrappers, with the metadata of the whole chain (outer wins). */
function zodUnwrap(node: ZodNode | undefined): { core: ZodNode | undefined; meta: Record<string, unknown> } {
  let meta: Record<string, unknown> = {};
  let cur = node;
  while (cur) {
    const m = z.globalRegistry.get(cur);
    if (m) meta = { ...m, ...meta };
    const def = cur._zod.def as { type: string; innerType?: ZodNode; in?: ZodNode };
    if (WRAPPERS.has(def.type) && def.innerType) cur = def.innerType;
    else if (def.type === "pipe" && def.in) cur = def.in;
    else break;
  }
  return { core: cur, meta };
}

/** The schema of a field, an array's element or a record's value, when `node` is an object, array or record. */
function zodChild(node: ZodNode | undefined, kind: "field" | "element" | "value", key?: string): ZodNode | undefined {
  const core = zodUnwrap(node).core;
  if (!core) return undefined;
  const def = core._zod.def as { type: string; shape?: Record<string, ZodNode>; element?: ZodNode; valueType?: ZodNode };
  if (kind === "field" && def.type === "object") return def.shape?.[key!];
  if (kind === "element" && def.type === "array") return def.element;
  if (kind === "value" && def.type === "record") return def.valueType;
  return undefined;
}

function zodDoc(node: ZodNode | undefined): { description?: string; default?: unknown } {
  const { meta } = zodUnwrap(node);
  const d = meta.default;
  const primitive = typeof d === "string" || typeof d === "number" || typeof d === "boolean";
  const defaultText = typeof meta.defaultText === "string" ? meta.defaultText : d !== undefined && !primitive ? JSON.stringify(d) : undefined;
  const text = typeof meta.description === "string" ? meta.description : "";
  const description = [text, defaultText ? `Default: ${defaultText}.` : ""].filter(Boolean).join("\n\n");
  return { ...(description ? { description } : {}), ...(primitive ? { default: d } : {}) };
}

interface Ctx {
  checker: ts.TypeChecker;
  types: Record<string, Spec>;
  /** class name → type token of this package's components */
  components: Map<string, string>;
}

function docOf(checker: ts.TypeChecker, symbol: ts.Symbol): { description?: string; default?: unknown } {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  const tag = symbol.getJsDocTags(checker).find((t) => t.name === "default");
  const raw = tag ? ts.displayPartsToString(tag.text).trim() : undefined;
  let dflt: unknown;
  let defaultText: string | undefined;
  if (raw !== undefined) {
    try {
      const v: unknown = JSON.parse(raw);
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") dflt = v;
      else defaultText = raw;
    } catch {
      defaultText = raw.replace(/^-\s*/, "");
    }
  }
  const description = [text, defaultText ? `Default: ${defaultText}.` : ""].filter(Boolean).join("\n\n");
  return { ...(description ? { description } : {}), ...(dflt !== undefined ? { default: dflt } : {}) };
}

function pascal(s: string): string {
  return s.replace(/(^|[^A-Za-z0-9])([A-Za-z0-9])/g, (_m, _s: string, c: string) => c.toUpperCase());
}

/** Input<T>, Output<T>, Promise<T> → T. */
function unwrap(checker: ts.TypeChecker, type: ts.Type): ts.Type {
  const name = type.getSymbol()?.getName() ?? type.aliasSymbol?.getName();
  if ((name === "Output" || name === "OutputInstance" || name === "Promise") && (type as ts.TypeReference).typeArguments?.length) {
    return unwrap(checker, checker.getTypeArguments(type as ts.TypeReference)[0]!);
  }
  const aliasArgs = type.aliasTypeArguments;
  if ((type.aliasSymbol?.getName() === "Input" || type.aliasSymbol?.getName() === "Output") && aliasArgs?.length) return unwrap(checker, aliasArgs[0]!);
  return type;
}

/** Whether the type is a Pulumi resource class (its base classes reach pulumi's Resource). */
function isResource(checker: ts.TypeChecker, t: ts.Type): boolean {
  const seen = new Set<ts.Type>();
  const walk = (x: ts.Type): boolean => {
    if (seen.has(x)) return false;
    seen.add(x);
    const name = x.getSymbol()?.getName();
    if ((name === "Resource" || name === "ComponentResource" || name === "CustomResource") && x.getSymbol()?.declarations?.some((d) => d.getSourceFile().fileName.includes("@pulumi/pulumi"))) return true;
    if (!x.isClassOrInterface()) return false;
    return (checker.getBaseTypes(x) ?? []).some(walk);
  };
  const target = (t as ts.TypeReference).target ?? t;
  return walk(target);
}

function isObjectLike(t: ts.Type): boolean {
  return (t.flags & ts.TypeFlags.Object) !== 0;
}

/** The schema type spec of a TypeScript type; `hint` names anonymous object types. */
function typeSpec(ctx: Ctx, type0: ts.Type, hint: string, zod0?: ZodNode): Spec {
  const { checker } = ctx;
  // z.custom<T> has no structure of its own: T's TypeScript declaration names and documents it.
  const zod = zod0 && zodUnwrap(zod0).core?._zod.def.type === "custom" ? undefined : zod0;
  const type = unwrap(checker, type0);
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return { $ref: "pulumi.json#/Any" };
  if (type.flags & ts.TypeFlags.StringLike && !(type.flags & ts.TypeFlags.StringLiteral)) return { type: "string" };
  if (type.flags & ts.TypeFlags.NumberLike && !(type.flags & ts.TypeFlags.NumberLiteral)) return { type: "number" };
  if (type.flags & ts.TypeFlags.BooleanLike) return { type: "boolean" };
  if (type.isStringLiteral()) return enumSpec(ctx, hint, [type.value]);
  if (type.isUnion()) {
    // pulumi.Input<T> = T | Promise<T> | OutputInstance<T>: keep the T members
    const members = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)) && !/^(Promise|OutputInstance|Output)</.test(checker.typeToString(t)));
    if (members.every((t) => t.flags & ts.TypeFlags.BooleanLiteral)) return { type: "boolean" };
    if (members.every((t) => t.isStringLiteral())) return enumSpec(ctx, hint, members.map((t) => (t).value));
    if (members.length === 1) return typeSpec(ctx, members[0]!, hint, zod);
    // a union of different kinds: the schema's union type (oneOf), without an underlying type
    return { oneOf: members.map((t, i) => typeSpec(ctx, t, `${hint}${i}`)) };
  }
  if (checker.isArrayType(type) || checker.isTupleType(type)) {
    const el = checker.getTypeArguments(type as ts.TypeReference)[0];
    return { type: "array", items: el ? typeSpec(ctx, el, `${hint}Item`, zodChild(zod, "element")) : { $ref: "pulumi.json#/Any" } };
  }
  if (isObjectLike(type)) {
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    const props = checker.getPropertiesOfType(type).filter((p) => !(checker.getTypeOfSymbol(p).getCallSignatures().length > 0));
    if (index && props.length === 0) return { type: "object", additionalProperties: typeSpec(ctx, index.type, `${hint}Value`, zodChild(zod, "value")) };
    if (props.length === 0) return { $ref: "pulumi.json#/Json" };
    if (isResource(checker, type)) {
      // a resource passed as input: this package's components by reference, others as Any
      const component = ctx.components.get(type.getSymbol()?.getName() ?? "");
      return component ? { $ref: `#/resources/${component}` } : { $ref: "pulumi.json#/Any" };
    }
    // A type derived from a zod schema is named by the schema's `id`; TypeScript's names for it
    // are zod's internal aliases.
    const zodId = zod ? zodUnwrap(zod).meta.id : undefined;
    const symbolName = zod ? undefined : (type.aliasSymbol?.getName() ?? type.getSymbol()?.getName());
    const named = typeof zodId === "string" ? zodId : symbolName && !["__type", "__object", "Partial", "Readonly", "Required"].includes(symbolName) ? symbolName : hint;
    const prefix = type.aliasSymbol?.getName() === "Partial" || checker.typeToString(type).startsWith("Partial<") ? "Partial" : "";
    const token = `${PACKAGE}:index:${prefix}${pascal(named)}`;
    if (!(token in ctx.types)) {
      ctx.types[token] = {}; // placeholder against recursion
      ctx.types[token] = objectSpec(ctx, type, props, pascal(named), zod);
    }
    return { $ref: `#/types/${token}` };
  }
  return { $ref: "pulumi.json#/Any" };
}

function enumSpec(ctx: Ctx, hint: string, values: string[]): Spec {
  const token = `${PACKAGE}:index:${pascal(hint)}`;
  ctx.types[token] = { type: "string", enum: values.map((value) => ({ value, name: pascal(value) || "Empty" })) };
  return { $ref: `#/types/${token}` };
}

function objectSpec(ctx: Ctx, type: ts.Type, props: ts.Symbol[], hint: string, zod?: ZodNode): Spec {
  const properties: Record<string, Spec> = {};
  const required: string[] = [];
  // In the schema's order (zod's input type lists required fields first).
  const shape = zod ? (zodUnwrap(zod).core?._zod.def as { shape?: Record<string, unknown> }).shape : undefined;
  const order = shape ? Object.keys(shape) : [];
  const ordered = shape ? [...props].sort((a, b) => order.indexOf(a.getName()) - order.indexOf(b.getName())) : props;
  for (const p of ordered) {
    // `@internal` (JSDoc, or `internal: true` in the field's zod metadata): a TypeScript-only
    // handoff between components (e.g. a plan object), which no other language could construct;
    // not part of the multi-language schema.
    const field = zodChild(zod, "field", p.getName());
    if (p.getJsDocTags(ctx.checker).some((t) => t.name === "internal") || zodUnwrap(field).meta.internal === true) continue;
    const decl = p.valueDeclaration ?? p.declarations?.[0];
    const pType = decl ? ctx.checker.getTypeOfSymbolAtLocation(p, decl) : ctx.checker.getTypeOfSymbol(p);
    const jsDoc = docOf(ctx.checker, p);
    properties[p.getName()] = { ...typeSpec(ctx, pType, `${hint}${pascal(p.getName())}`, field), ...(Object.keys(jsDoc).length > 0 ? jsDoc : zodDoc(field)) };
    if (!(p.flags & ts.SymbolFlags.Optional)) required.push(p.getName());
  }
  // The type's own documentation: its schema's (not the field's that holds it).
  const doc = zod ? zodDoc(zodUnwrap(zod).core) : type.aliasSymbol ? docOf(ctx.checker, type.aliasSymbol) : type.getSymbol() ? docOf(ctx.checker, type.getSymbol()!) : {};
  return { type: "object", ...(doc.description ? { description: doc.description } : {}), properties, ...(required.length ? { required } : {}) };
}

export function generateSchema(): Record<string, unknown> {
  const config = ts.getParsedCommandLineOfConfigFile(join(PKG, "..", "..", "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  const program = ts.createProgram([ENTRY], { ...config!.options, noEmit: true });
  const checker = program.getTypeChecker();
  const entry = program.getSourceFile(ENTRY)!;
  const moduleSymbol = checker.getSymbolAtLocation(entry)!;
  const ctx: Ctx = { checker, types: {}, components: new Map() };
  const resources: Record<string, Spec> = {};
  const classes: { symbol: ts.Symbol; decl: ts.ClassDeclaration; token: string }[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!(symbol.flags & ts.SymbolFlags.Class)) continue;
    const decl = symbol.valueDeclaration as ts.ClassDeclaration | undefined;
    if (!decl) continue;
    const source = decl.getSourceFile().getFullText().slice(decl.getStart(), decl.getEnd());
    const token = new RegExp(`super\\("(${PACKAGE}:index:${symbol.getName()})"`).exec(source)?.[1];
    if (!token) continue; // not a component (dynamic resources register under their own type)
    classes.push({ symbol, decl, token });
    ctx.components.set(symbol.getName(), token);
  }
  for (const { symbol, decl, token } of classes) {
    const ctor = decl.members.find(ts.isConstructorDeclaration);
    const argsParam = ctor?.parameters[1];
    if (!argsParam?.type) throw new Error(`${symbol.getName()}: constructor has no typed args parameter`);
    const argsType = checker.getTypeFromTypeNode(argsParam.type);
    // Each shape is declared once, in zod: a component whose args are not here was declared some other way.
    const zodArgs = ZOD_ARGS[symbol.getName()];
    if (!zodArgs) throw new Error(`${symbol.getName()}: its args schema is not in ZOD_ARGS (declare the args in zod, the type as its z.input)`);
    const inputs = objectSpec(ctx, argsType, checker.getPropertiesOfType(argsType), symbol.getName(), zodArgs);
    // Outputs: the component's public Output-typed properties.
    const instance = checker.getDeclaredTypeOfSymbol(symbol);
    const outputs: Record<string, Spec> = {};
    for (const p of checker.getPropertiesOfType(instance)) {
      const pDecl = p.valueDeclaration;
      if (!pDecl || !ts.isPropertyDeclaration(pDecl) || pDecl.parent !== decl) continue;
      const pType = checker.getTypeOfSymbolAtLocation(p, pDecl);
      if (!/^Output</.test(checker.typeToString(pType))) continue;
      outputs[p.getName()] = { ...typeSpec(ctx, pType, `${symbol.getName()}${pascal(p.getName())}`), ...docOf(checker, p) };
    }
    const classDoc = docOf(checker, symbol);
    resources[token] = {
      isComponent: true,
      ...(classDoc.description ? { description: classDoc.description } : {}),
      inputProperties: inputs.properties,
      ...(inputs.required ? { requiredInputs: inputs.required } : {}),
      properties: outputs,
    };
  }
  const pkg = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")) as { version: string; description: string; license: string };
  return {
    name: PACKAGE,
    displayName: "OCTW",
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    keywords: ["category/infrastructure", "kind/component", "docker", "openclaw", "multi-tenant"],
    language: { nodejs: { packageName: "@octw/pulumi" } },
    resources: Object.fromEntries(Object.entries(resources).sort(([a], [b]) => a.localeCompare(b))),
    types: Object.fromEntries(Object.entries(ctx.types).sort(([a], [b]) => a.localeCompare(b))),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = `${JSON.stringify(generateSchema(), null, 2)}\n`;
  if (process.argv.includes("--check")) {
    if (readFileSync(SCHEMA_FILE, "utf8") !== text) {
      console.error("packages/pulumi/provider/schema.json is stale: run tsx packages/pulumi/provider/generate-schema.ts");
      process.exit(1);
    }
  } else writeFileSync(SCHEMA_FILE, text);
}
