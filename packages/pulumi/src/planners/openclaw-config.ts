/**
 * The gateway's `openclaw.json`: pure function of the tenant's plan. Contains no secret (the
 * router token, when there is one, is a separate 0400 file), so it can be reviewed in a diff.
 */
import { USER_HEADER } from "@octw/contracts";
import { openclawHeartbeatEvery } from "./heartbeat.js";

export const OPENCLAW_PORT = 18789;
export const OPENCLAW_STATE_DIR = "/var/lib/openclaw";

export interface OpenClawConfigInput {
  /** The edge's fixed address on this tenant's network: the only trusted proxy. */
  readonly edgeAddress: string;
  /** Origins allowed to open the Control UI (e.g. `https://alpha.openclaw.example.com`). */
  readonly allowedOrigins: readonly string[];
  /**
   * Model providers through the inference router (`models` and `secrets` sections, from
   * `openclawModelsConfig` of @octw/contracts): no secret, only a file reference.
   */
  readonly models?: { readonly models: unknown; readonly secrets: unknown };
  /**
   * With people signing in at the edge (edge.oidc): OpenClaw approves a new browser by the
   * proxy identity instead of a one-time approval on the gateway host, up to these scopes. What
   * a device really gets is capped by the x-openclaw-scopes the edge always sends for the
   * person's role, so listing every operator scope grants nobody more than their role.
   */
  readonly deviceAutoApproveScopes?: readonly string[];
  /**
   * Heartbeat interval in seconds (0: the recurring heartbeat off); absent: the key is not
   * written and OpenClaw's own default holds (see heartbeat.ts).
   */
  readonly heartbeatEveryS?: number;
}

export function renderOpenClawConfig(input: OpenClawConfigInput): string {
  const config = {
    gateway: {
      mode: "local",
      // "lan" listens on all container interfaces; the container has exactly one (its tenant network).
      bind: "lan",
      port: OPENCLAW_PORT,
      trustedProxies: [input.edgeAddress],
      auth: {
        mode: "trusted-proxy",
        trustedProxy: {
          userHeader: USER_HEADER,
          ...(input.deviceAutoApproveScopes ? { deviceAutoApprove: { enabled: true, scopes: [...input.deviceAutoApproveScopes] } } : {}),
        },
      },
      controlUi: { allowedOrigins: [...input.allowedOrigins] },
    },
    // No phoning home from inside the sandbox: updates arrive as new pinned images.
    update: { checkOnStart: false },
    // The heartbeat is a scheduled job that wakes a suspended tenant: the platform sets its cadence.
    ...(input.heartbeatEveryS !== undefined ? { agents: { defaults: { heartbeat: { every: openclawHeartbeatEvery(input.heartbeatEveryS) } } } } : {}),
    ...(input.models ? { models: input.models.models, secrets: input.models.secrets } : {}),
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
