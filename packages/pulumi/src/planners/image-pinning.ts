/**
 * Image references: pinned or refused. A tag can be moved under a running platform; a digest
 * (`repo@sha256:…`) or a local image id (`sha256:…`) cannot.
 */
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REPO = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

export type ImagePin =
  | { kind: "digest"; ref: string }
  | { kind: "local-id"; ref: string }
  | { kind: "unpinned"; ref: string };

/** Classifies an image reference; returns a reason when it is malformed. */
export function classifyImage(ref: string): ImagePin | { kind: "invalid"; reason: string } {
  if (DIGEST.test(ref)) return { kind: "local-id", ref };
  const at = ref.indexOf("@");
  if (at >= 0) {
    const repoAndTag = ref.slice(0, at);
    const digest = ref.slice(at + 1);
    if (!DIGEST.test(digest)) return { kind: "invalid", reason: "has a digest that is not sha256:<64 lowercase hex>" };
    const repo = repoAndTag.replace(/:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "");
    if (!REPO.test(repo)) return { kind: "invalid", reason: "has a repository part that is not a valid image name (lowercase a-z, 0-9, . _ - separators, optional registry:port/)" };
    return { kind: "digest", ref };
  }
  const repo = ref.replace(/:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "");
  if (!REPO.test(repo)) return { kind: "invalid", reason: "is not a valid image reference: use repo@sha256:<digest> or a local image id sha256:<id>" };
  return { kind: "unpinned", ref };
}

/**
 * Returns a problem message for `ref`, or undefined when it may be used. The message never
 * quotes the reference: it may have been resolved from the operator's environment.
 */
export function imageProblem(ref: string, allowUnpinned: boolean): string | undefined {
  const c = classifyImage(ref);
  if (c.kind === "invalid") return c.reason;
  if (c.kind === "unpinned" && !allowUnpinned) {
    return "is not pinned (a tag can be moved under a running platform); use repo@sha256:<digest> or a local image id sha256:<id>, or set allowUnpinnedImage: true";
  }
  return undefined;
}
