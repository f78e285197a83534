/**
 * Policy presets in the spirit of NemoClaw's `policies/presets/`: small fragments that a tenant
 * merges into its policy by name. Opt-in only (NemoClaw learned that a capability granted by
 * default — GitHub in its base policy — reaches every sandbox unasked).
 *
 * All endpoints are L4 (CONNECT to host:port): OCTW does not inspect TLS, so a preset never
 * claims a method-level restriction it cannot enforce.
 */
import type { SandboxPolicyDocument } from "./sandbox-policy-schema.js";

export const POLICY_PRESETS = {
  /** No egress at all. Model calls go through the inference router, which is not egress. */
  restricted: {
    version: 1,
    filesystem_policy: { read_write: ["/tmp"] },
    network_policies: {},
  },
  /**
   * GitHub's REST API and its read-only download hosts. Not included: `github.com` (git push
   * over HTTPS) and `uploads.github.com` (release uploads). Which API methods a token may call
   * is up to that token's scopes: without TLS inspection the proxy cannot filter methods.
   */
  github: {
    version: 1,
    network_policies: {
      github: {
        name: "github-api-read",
        endpoints: [
          { host: "api.github.com", port: 443 },
          { host: "codeload.github.com", port: 443 },
          { host: "raw.githubusercontent.com", port: 443 },
        ],
      },
    },
  },
  /** Telegram Bot API (long polling and sending). */
  telegram: {
    version: 1,
    network_policies: {
      telegram: { name: "telegram-bot-api", endpoints: [{ host: "api.telegram.org", port: 443 }] },
    },
  },
  /** Discord REST, the gateway WebSocket, and the CDN for attachments. */
  discord: {
    version: 1,
    network_policies: {
      discord: {
        name: "discord",
        endpoints: [
          { host: "discord.com", port: 443 },
          { host: "gateway.discord.gg", port: 443 },
          { host: "cdn.discordapp.com", port: 443 },
        ],
      },
    },
  },
  /** Slack Web API, Socket Mode WebSockets and file downloads. */
  slack: {
    version: 1,
    network_policies: {
      slack: {
        name: "slack",
        endpoints: [
          { host: "slack.com", port: 443 },
          { host: "*.slack.com", port: 443 },
          { host: "files.slack.com", port: 443 },
        ],
      },
    },
  },
} as const satisfies Record<string, SandboxPolicyDocument>;

export type PolicyPresetName = keyof typeof POLICY_PRESETS;
export const POLICY_PRESET_NAMES = Object.keys(POLICY_PRESETS) as PolicyPresetName[];
