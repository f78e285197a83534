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
    if (!DIGEST.test(digest)) return { kind: "invalid", reason: `digest "${digest}" is not sha256:<64 hex>` };
    const repo = repoAndTag.replace(/:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "");
    if (!REPO.test(repo)) return { kind: "invalid", reason: `repository "${repo}" is not a valid image name` };
    return { kind: "digest", ref };
  }
  const repo = ref.replace(/:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "");
  if (!REPO.test(repo)) return { kind: "invalid", reason: `"${ref}" is not a valid image reference` };
  return { kind: "unpinned", ref };
}

/** Returns a problem message for `ref`, or undefined when it may be used. */
export function imageProblem(ref: string, allowUnpinned: boolean): string | undefined {
  const c = classifyImage(ref);
  if (c.kind === "invalid") return c.reason;
  if (c.kind === "unpinned" && !allowUnpinned) {
    return `"${ref}" is not pinned; use repo@sha256:<digest> or a local image id sha256:<id>, or set allowUnpinnedImage: true`;
  }
  return undefined;
}
