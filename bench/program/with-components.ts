import { OpenClawPlatform } from "@octw/pulumi";

export const IMAGES = {
  openclaw: `sha256:${"a".repeat(64)}`,
  egressProxy: `sha256:${"b".repeat(64)}`,
  postgres: `sha256:${"c".repeat(64)}`,
};

/** The platform as users declare it: one validated config, N tenants. */
export function declareWithComponents(tenants: number): void {
  new OpenClawPlatform("bench", {
    prefix: "bench",
    images: IMAGES,
    tenants: Array.from({ length: tenants }, (_, i) => ({ id: `t${i + 1}`, slot: i + 1, presets: ["restricted" as const, "github" as const] })),
    audit: { mode: "embedded" },
  });
}
