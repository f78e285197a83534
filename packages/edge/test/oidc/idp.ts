// A real OpenID provider for the tests: oidc-provider (OpenID Certified), in process on a
// loopback port, with test users (username + password on its own login page) and groups.
// Not a protocol mock: discovery, authorization, PKCE, code exchange, ID token signing,
// refresh, revocation and RP-initiated logout are oidc-provider's own.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider, { type ClientMetadata, type Configuration, type KoaContextWithOIDC } from "oidc-provider";

export interface TestUser {
  username: string;
  password: string;
  groups: string[];
}

export const TEST_USERS: TestUser[] = [
  { username: "mia", password: "mia-pass-1", groups: ["alpha-members"] },
  { username: "vic", password: "vic-pass-1", groups: ["alpha-viewers"] },
  { username: "ada", password: "ada-pass-1", groups: ["alpha-admins", "bravo-members"] },
  { username: "nog", password: "nog-pass-1", groups: ["unrelated-team"] },
];

export const CLIENT_ID = "octw-edge";
export const CLIENT_SECRET = "test-client-secret-not-for-production";

export interface TestIdp {
  issuer: string;
  port: number;
  provider: Provider;
  /** Lifetime of refresh tokens issued from now on (an IdP's policy; a session re-checked after it ends). */
  ttl: { refreshTokenSec: number };
  /** Changes a user's groups (as an IdP administrator would). */
  setGroups(username: string, groups: string[]): void;
  close(): Promise<void>;
}

export interface IdpOptions {
  /** Redirect URIs of the edge client (the tenant origins' callbacks). */
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  /** Signing algorithm of ID tokens. */
  idTokenAlg?: "RS256" | "ES256";
  /** A second client (another audience) with the same redirect URIs. */
  otherClientId?: string;
  idTokenTtlSec?: number;
  /**
   * Serve https with this certificate, on `listen.host`, under the issuer host name `listen.name`
   * (an IdP a containerized edge reaches). Default: http on 127.0.0.1, issuer by address.
   */
  tls?: { cert: string; key: string };
  listen?: { host: string; port?: number; name?: string };
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startTestIdp(opts: IdpOptions): Promise<TestIdp> {
  const users = new Map(TEST_USERS.map((u) => [u.username, { ...u, groups: [...u.groups] }]));
  const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }) : http.createServer();
  const host = opts.listen?.host ?? "127.0.0.1";
  await new Promise<void>((r) => server.listen(opts.listen?.port ?? 0, host, r));
  const port = (server.address() as AddressInfo).port;
  const scheme = opts.tls ? "https" : "http";
  const issuer = new URL(`${scheme}://${opts.listen?.name ?? host}:${port}`).origin; // no :443 (an origin, as browsers print it)
  const ttl = { refreshTokenSec: 86_400 };
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.privateKey)), kid: "rsa1", alg: "RS256", use: "sig" },
    { ...(await exportJWK(ec.privateKey)), kid: "ec1", alg: "ES256", use: "sig" },
  ];
  const client = (client_id: string): ClientMetadata => ({
    client_id,
    client_secret: CLIENT_SECRET,
    redirect_uris: opts.redirectUris,
    post_logout_redirect_uris: opts.postLogoutRedirectUris,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: opts.idTokenAlg ?? "RS256",
  });
  const config: Configuration = {
    clients: [client(CLIENT_ID), ...(opts.otherClientId ? [client(opts.otherClientId)] : [])],
    jwks: { keys },
    cookies: { keys: ["test-idp-cookie-key-1"] },
    claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email"], groups: ["groups"] },
    scopes: ["openid", "offline_access", "profile", "email", "groups"],
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // The IdP's own confirmation page, submitted by the person (the form is oidc-provider's).
        logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
          ctx.body = page("Sign out of the identity provider?", `${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
          return Promise.resolve();
        },
      },
    },
    pkce: { required: () => true },
    ttl: {
      IdToken: opts.idTokenTtlSec ?? 600,
      AccessToken: 600,
      RefreshToken: () => ttl.refreshTokenSec,
      Interaction: 600,
      Session: 86_400,
      Grant: 86_400,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, sub) => {
      const u = users.get(sub);
      if (!u) return undefined;
      return {
        accountId: sub,
        claims: () => ({ sub, name: sub, preferred_username: sub, email: `${sub}@example.test`, groups: [...u.groups] }),
      };
    },
    // oidc-provider releases claims of requested scopes into the ID token only when asked; the
    // groups go into the ID token because that is where the edge reads them.
    conformIdTokenClaims: false,
  };
  const provider = new Provider(issuer, config);
  provider.on("server_error", () => {});

  // The interaction routes: a login form (username + password), consent granted for the
  // edge client without a prompt (first-party), as an organization's IdP would.
  server.on("request", (req, res) => {
    void (async () => {
      const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec((req.url ?? "").split("?")[0]!);
      if (!m) return provider.callback()(req, res);
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === "consent") {
        const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
        const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
        if (missing.missingOIDCScope) grant!.addOIDCScope(missing.missingOIDCScope.join(" "));
        if (missing.missingOIDCClaims) grant!.addOIDCClaims(missing.missingOIDCClaims);
        const grantId = await grant!.save();
        return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      if (req.method === "POST" && m[2]) {
        const body = await new Promise<string>((r) => {
          let b = "";
          req.on("data", (c: Buffer) => (b += c.toString()));
          req.on("end", () => r(b));
        });
        const f = new URLSearchParams(body);
        const u = users.get(f.get("username") ?? "");
        if (!u || u.password !== f.get("password")) {
          res.writeHead(200, { "content-type": "text/html" });
          res.end(page("Sign in", `<p id="error">Wrong username or password.</p>${loginForm(m[1]!)}`));
          return;
        }
        return provider.interactionFinished(req, res, { login: { accountId: u.username } }, { mergeWithLastSubmission: false });
      }
      res.writeHead(200, { "content-type": "text/html" });
      res.end(page("Sign in to the test identity provider", loginForm(m[1]!)));
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(400, { "content-type": "text/plain" });
      res.end(`interaction failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  });

  return {
    issuer,
    port,
    provider,
    ttl,
    setGroups: (username, groups) => {
      users.get(username)!.groups = [...groups];
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function loginForm(uid: string): string {
  return `<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`;
}
