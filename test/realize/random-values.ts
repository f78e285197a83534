// Real random values for @pulumi/random resources, generated with node's CSPRNG and honouring
// the same arguments and defaults as the terraform random provider (length, character classes,
// minimum counts, overrideSpecial). Secret outputs come back wrapped as secrets, as the real
// engine does for RandomPassword/RandomBytes (their additionalSecretOutputs).
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { wrapSecret } from "./secrets";
import { checkFields, fail } from "./field-check";

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";
// terraform-provider-random's default special set
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

function pick(set: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(set[randomInt(set.length)]!);
  return out;
}

function randomStringFromArgs(kind: string, name: string, a: Record<string, unknown>): string {
  const length = a.length;
  if (typeof length !== "number" || !Number.isInteger(length) || length < 1) {
    fail(kind, name, "length", "must be an integer ≥ 1");
  }
  const flag = (k: string, d: boolean) => (a[k] === undefined ? d : Boolean(a[k]));
  const num = (k: string) => (typeof a[k] === "number" ? (a[k]) : 0);
  const numeric = a.numeric !== undefined ? flag("numeric", true) : flag("number", true);
  const special = flag("special", true);
  const classes: { set: string; min: number; on: boolean }[] = [
    { set: LOWER, min: num("minLower"), on: flag("lower", true) },
    { set: UPPER, min: num("minUpper"), on: flag("upper", true) },
    { set: DIGITS, min: num("minNumeric"), on: numeric },
    { set: typeof a.overrideSpecial === "string" ? a.overrideSpecial : SPECIAL, min: num("minSpecial"), on: special },
  ];
  const chars: string[] = [];
  let all = "";
  for (const c of classes) {
    if (!c.on) continue;
    all += c.set;
    chars.push(...pick(c.set, c.min));
  }
  if (all.length === 0) fail(kind, name, "lower/upper/numeric/special", "at least one character class must be enabled");
  if (chars.length > (length)) fail(kind, name, "length", "is smaller than the sum of the min* counts");
  chars.push(...pick(all, (length) - chars.length));
  // Fisher–Yates so the guaranteed characters are not at the front
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join("");
}

export interface RandomResult {
  id: string;
  outputs: Record<string, unknown>;
}

const PASSWORD_FIELDS = [
  "length", "keepers", "lower", "upper", "numeric", "number", "special",
  "minLower", "minUpper", "minNumeric", "minSpecial", "overrideSpecial",
];

export function realizeRandom(type: string, name: string, a: Record<string, unknown>): RandomResult {
  switch (type) {
    case "random:index/randomPassword:RandomPassword": {
      checkFields(type, name, a, PASSWORD_FIELDS);
      const result = randomStringFromArgs(type, name, a);
      // bcryptHash is not computed (no bcrypt here): left out rather than faked
      return { id: "none", outputs: { result: wrapSecret(result) } };
    }
    case "random:index/randomString:RandomString": {
      checkFields(type, name, a, PASSWORD_FIELDS);
      const result = randomStringFromArgs(type, name, a);
      return { id: result, outputs: { result } };
    }
    case "random:index/randomBytes:RandomBytes": {
      checkFields(type, name, a, ["length", "keepers"]);
      if (typeof a.length !== "number" || !Number.isInteger(a.length) || a.length < 1) fail(type, name, "length", "must be an integer ≥ 1");
      const b = randomBytes(a.length);
      return { id: "none", outputs: { base64: wrapSecret(b.toString("base64")), hex: wrapSecret(b.toString("hex")) } };
    }
    case "random:index/randomId:RandomId": {
      checkFields(type, name, a, ["byteLength", "prefix", "keepers"]);
      if (typeof a.byteLength !== "number" || !Number.isInteger(a.byteLength) || a.byteLength < 1) fail(type, name, "byteLength", "must be an integer ≥ 1");
      const b = randomBytes(a.byteLength);
      const prefix = typeof a.prefix === "string" ? a.prefix : "";
      const b64Url = b.toString("base64url");
      return {
        id: b64Url,
        outputs: {
          hex: prefix + b.toString("hex"),
          b64Std: prefix + b.toString("base64"),
          b64Url: prefix + b64Url,
          dec: prefix + BigInt("0x" + b.toString("hex")).toString(10),
        },
      };
    }
    case "random:index/randomUuid:RandomUuid": {
      checkFields(type, name, a, ["keepers"]);
      const u = randomUUID();
      return { id: u, outputs: { result: u } };
    }
    case "random:index/randomInteger:RandomInteger": {
      checkFields(type, name, a, ["min", "max", "keepers"]);
      const min = a.min, max = a.max;
      if (typeof min !== "number" || typeof max !== "number" || !(max >= min)) fail(type, name, "min/max", "must be numbers with min ≤ max");
      const r = randomInt(min, (max) + 1);
      return { id: String(r), outputs: { result: r } };
    }
    default:
      throw new Error(`realizing mock: resource type ${type} (${name}) is not implemented`);
  }
}
