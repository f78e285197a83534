/**
 * Images are pinned by content: a tag can be moved under a running platform, a digest cannot.
 */
import { TYPES, UNKNOWN, known } from "../resource-facts.js";
import type { ResourceRule } from "./rule.js";

const PINNED = /^(sha256:[0-9a-f]{64}|[^@\s]+@sha256:[0-9a-f]{64})$/;
const FIX = "pin it by digest (repo@sha256:…) or use a local image id (sha256:…)";

export const imagesPinned: ResourceRule = {
  kind: "resource",
  name: "octw-images-pinned",
  description: "Every image is pinned by digest or image id; tags and images built in the stack are refused.",
  types: [TYPES.container, TYPES.remoteImage, TYPES.buildImage],
  check(props, ctx) {
    if (ctx.type === TYPES.buildImage) {
      return [{ field: "build", problem: "builds an image in the stack, whose content no review pins", fix: `build it in CI, push it, and ${FIX}` }];
    }
    const field = ctx.type === TYPES.remoteImage ? "name" : "image";
    const image = known(() => props[field]);
    // A container's image computed from a RemoteImage is unknown during preview; the
    // RemoteImage itself is checked.
    if (image === UNKNOWN || image === undefined) return [];
    if (typeof image === "string" && PINNED.test(image)) return [];
    return [{ field, problem: "is not pinned by digest", fix: FIX }];
  },
};
