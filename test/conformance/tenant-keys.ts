// The operator stores each tenant's own model-provider key in the platform's AuditStore
// (tenant_secrets, sealed with its master key), as `octw secrets set` does, as the owner.
import { TenantSecrets } from "@octw/audit";
import type { OpenClawPlatform } from "@octw/pulumi";
import pg from "pg";
import { valueOf } from "./env";

export async function storeProviderKeys(platform: OpenClawPlatform, name: string, keys: Record<string, string>): Promise<void> {
  const operator = await valueOf(platform.audit.owner);
  const masterKey = await valueOf(platform.audit.masterKey);
  const pool = new pg.Pool({ host: operator.host, port: operator.port, database: operator.database, user: operator.user, password: operator.password, max: 1 });
  try {
    const secrets = new TenantSecrets({ db: pool, keyring: [{ version: 1, key: Buffer.from(masterKey, "base64") }] });
    for (const [tenant, key] of Object.entries(keys)) await secrets.set(tenant, name, key);
  } finally {
    await pool.end();
  }
}
