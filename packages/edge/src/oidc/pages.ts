// The pages a person sees from the edge itself: small, plain, no script, and each says what
// happened and what to do next. Nothing from the request is echoed except a path the edge
// validated, and that is HTML-escaped.
export interface Page {
  status: number;
  title: string;
  /** Paragraphs, already escaped where they hold request data. */
  body: string[];
  /** A link or a form button that is the next step. */
  action?: { href: string; label: string; method?: "get" | "post" } | undefined;
  /** Navigate on by itself (meta refresh), e.g. after sign-in. */
  refreshTo?: string | undefined;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function renderPage(p: Page): string {
  const action = p.action
    ? p.action.method === "post"
      ? `<form method="post" action="${escapeHtml(p.action.href)}"><button type="submit">${escapeHtml(p.action.label)}</button></form>`
      : `<p><a href="${escapeHtml(p.action.href)}">${escapeHtml(p.action.label)}</a></p>`
    : "";
  const refresh = p.refreshTo ? `<meta http-equiv="refresh" content="0;url=${escapeHtml(p.refreshTo)}">` : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">${refresh}
<title>${escapeHtml(p.title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.4em}</style>
</head><body><h1>${escapeHtml(p.title)}</h1>
${p.body.map((b) => `<p>${b}</p>`).join("\n")}
${action}
</body></html>
`;
}

/** Where a sign-in starts; `returnTo` is a same-origin path the person wanted. */
export function loginHref(returnTo: string): string {
  return `/_edge/oidc/login?return=${encodeURIComponent(returnTo)}`;
}

export const pages = {
  signingIn: (to: string): Page => ({
    status: 200,
    title: "Signed in",
    body: [`You are signed in. Continuing to <code>${escapeHtml(to)}</code> …`],
    action: { href: to, label: "Continue" },
    refreshTo: to,
  }),
  noAccess: (tenant: string): Page => ({
    status: 403,
    title: "You have no access to this tenant",
    body: [
      `You are signed in, but none of your groups at the identity provider gives you a role in <strong>${escapeHtml(tenant)}</strong>.`,
      "If you should have access, ask the tenant's administrator to add you to one of its groups, then sign in again.",
    ],
    action: { href: "/_edge/oidc/logout", label: "Sign out", method: "post" },
  }),
  sessionExpired: (returnTo: string): Page => ({
    status: 401,
    title: "Your session has ended",
    body: ["Your sign-in expired or was ended (signed out, or your access changed). Sign in again to continue where you were."],
    action: { href: loginHref(returnTo), label: "Sign in again" },
  }),
  signedOut: (): Page => ({
    status: 200,
    title: "You are signed out",
    body: ["Your session on this tenant has ended. Close this tab, or sign in again."],
    action: { href: loginHref("/"), label: "Sign in" },
  }),
  signOutConfirm: (): Page => ({
    status: 200,
    title: "Sign out?",
    body: ["This ends your session on this tenant and at your identity provider."],
    action: { href: "/_edge/oidc/logout", label: "Sign out", method: "post" },
  }),
  signInFailed: (): Page => ({
    status: 400,
    title: "Sign-in did not complete",
    body: [
      "The answer from the identity provider could not be accepted (it was too old, used twice, or not meant for this site).",
      "Start again; if it keeps happening, tell your administrator the time it happened.",
    ],
    action: { href: loginHref("/"), label: "Sign in again" },
  }),
  idpUnavailable: (): Page => ({
    status: 503,
    title: "The identity provider cannot be reached",
    body: ["Signing in needs your organization's identity provider, which does not answer right now. Try again in a minute."],
    action: { href: loginHref("/"), label: "Try again" },
  }),
  /**
   * Hook for the wake page (suspended tenants, issue 12): the waker integration renders its own
   * page through the same renderPage so every edge page looks and reads alike.
   */
  waking: (tenant: string, retryAfterSec: number): Page => ({
    status: 503,
    title: "Starting your workspace",
    body: [`<strong>${escapeHtml(tenant)}</strong> was asleep and is starting. This page reloads in ${retryAfterSec} seconds.`],
    refreshTo: undefined,
  }),
};
