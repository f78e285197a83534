// A stand-in for a tenant's OpenClaw gateway behind the edge, used by the browser suite when
// no Docker engine is available to run the real image: it trusts the edge's identity headers
// the way OpenClaw's trusted-proxy mode does (x-octw-user, x-openclaw-scopes), serves a small
// chat page, and over a WebSocket answers chat messages through a fake model provider —
// refusing a send without operator.write, as OpenClaw's chat.send does. It is NOT OpenClaw:
// what it proves is the edge's part (sign-in, cookies, identity and scopes reaching the
// gateway, WebSockets through the edge), not OpenClaw's Control UI.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

export interface StandinGateway {
  url: string;
  /** Requests that reached this gateway (nothing of a tenant may load for an outsider). */
  requests: { url: string; user: string | undefined; scopes: string | undefined }[];
  close(): Promise<void>;
}

/** The fake model provider: answers every prompt with a fixed, recognizable text. */
export async function startFakeProvider(): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const prompt = (JSON.parse(body || "{}") as { messages?: { content?: string }[] }).messages?.at(-1)?.content ?? "";
      calls.push(prompt);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: `fake-provider says: you wrote "${prompt}"` } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const PAGE = (tenant: string) => `<!doctype html><html><head><meta charset="utf-8"><title>Control UI stand-in — ${tenant}</title>
<style>body{font:15px system-ui,sans-serif;margin:2em}#log div{margin:.3em 0}.assistant{color:#064}.error{color:#a00}</style></head>
<body><h1>${tenant} — chat</h1>
<p>Signed in as <b id="user">…</b> with scopes <code id="scopes">…</code> · <a id="signout" href="/_edge/oidc/logout">Sign out</a></p>
<div id="log"></div>
<form id="f"><input id="msg" autocomplete="off" size="40"> <button id="send">Send</button></form>
<p id="status"></p>
<script>
const log = document.getElementById("log");
const add = (cls, text) => { const d = document.createElement("div"); d.className = cls; d.textContent = text; log.appendChild(d); };
fetch("/whoami").then(r => r.json()).then(w => {
  document.getElementById("user").textContent = w.user;
  document.getElementById("scopes").textContent = w.scopes;
  if (!w.scopes.split(",").includes("operator.write")) {
    document.getElementById("send").disabled = true;
    document.getElementById("status").textContent = "You can read this conversation but not send (viewer).";
  }
});
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onmessage = (e) => { const m = JSON.parse(e.data); add(m.kind, (m.kind === "user" ? m.user + ": " : m.kind === "error" ? "refused: " : "agent: ") + m.text); };
ws.onopen = () => { document.getElementById("status").dataset.ws = "open"; };
ws.onclose = () => { document.getElementById("status").dataset.ws = "closed"; };
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); const i = document.getElementById("msg"); ws.send(JSON.stringify({ text: i.value })); i.value = ""; };
</script></body></html>`;

export async function startStandinGateway(tenant: string, providerUrl: string): Promise<StandinGateway> {
  const requests: StandinGateway["requests"] = [];
  const history: { kind: string; user?: string; text: string }[] = [];
  const server = http.createServer((req, res) => {
    const user = req.headers["x-octw-user"] as string | undefined;
    const scopes = req.headers["x-openclaw-scopes"] as string | undefined;
    requests.push({ url: req.url ?? "", user, scopes });
    // As OpenClaw in trusted-proxy mode: no identity from the proxy, no access.
    if (!user) {
      res.writeHead(401).end();
      return;
    }
    if (req.url === "/whoami") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ user, scopes }));
      return;
    }
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(PAGE(tenant));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const user = req.headers["x-octw-user"] as string | undefined;
    const scopes = String(req.headers["x-openclaw-scopes"] ?? "").split(",");
    requests.push({ url: req.url ?? "", user, scopes: scopes.join(",") });
    if (!user) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      for (const m of history) ws.send(JSON.stringify(m));
      ws.on("message", (data: Buffer) => {
        void (async () => {
          const { text } = JSON.parse(data.toString("utf8")) as { text: string };
          if (!scopes.includes("operator.write")) {
            ws.send(JSON.stringify({ kind: "error", text: "missing scope: operator.write" }));
            return;
          }
          const q = { kind: "user", user, text };
          history.push(q);
          ws.send(JSON.stringify(q));
          const r = await fetch(`${providerUrl}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "fake", messages: [{ role: "user", content: text }] }),
          });
          const answer = ((await r.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
          const a = { kind: "assistant", text: answer };
          history.push(a);
          ws.send(JSON.stringify(a));
        })();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
