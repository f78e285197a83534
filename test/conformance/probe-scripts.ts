// The probes an attacker inside a tenant's gateway runs, as scripts for the tools the gateway
// image keeps (node, sh, perl-base, util-linux). Each prints a line the suite parses.

/** TCP connect, optionally send a payload (base64) and read the answer. Prints {ok, err?, data?}. */
export const TCP_PROBE = `
const net = require("net");
const [host, port, payloadB64, ms] = process.argv.slice(1);
const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
const t = setTimeout(() => out({ ok: false, err: "timeout" }), Number(ms || 4000));
const s = net.connect({ host, port: Number(port) });
let data = "";
s.on("connect", () => {
  if (payloadB64) s.write(Buffer.from(payloadB64, "base64"));
  else { clearTimeout(t); s.destroy(); out({ ok: true }); }
});
s.on("data", (d) => { data += d; });
s.on("end", () => { clearTimeout(t); out({ ok: true, data }); });
s.on("error", (e) => { clearTimeout(t); out({ ok: false, err: e.code || String(e) }); });
`;

/** CONNECT through an HTTP proxy, then an HTTP GET of /<token> inside the tunnel. Prints {status, body?, err?}. */
export const CONNECT_PROBE = `
const net = require("net");
const [phost, pport, target, token, ms] = process.argv.slice(1);
const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
const t = setTimeout(() => out({ status: "timeout" }), Number(ms || 8000));
const s = net.connect({ host: phost, port: Number(pport) });
let buf = "", tunnel = false;
s.on("connect", () => s.write("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n"));
s.on("data", (d) => {
  buf += d;
  if (tunnel) return;
  const i = buf.indexOf("\\r\\n\\r\\n");
  if (i < 0) return;
  const status = buf.split(" ")[1];
  if (status !== "200") { clearTimeout(t); out({ status }); }
  tunnel = true;
  buf = buf.slice(i + 4);
  s.write("GET /" + token + " HTTP/1.1\\r\\nHost: probe\\r\\nConnection: close\\r\\n\\r\\n");
});
s.on("end", () => { clearTimeout(t); out({ status: tunnel ? "200" : "closed", body: buf }); });
s.on("error", (e) => { clearTimeout(t); out({ status: "error", err: e.code || String(e) }); });
`;

/** Plain-HTTP proxying (no CONNECT): GET http://<target>/<token> through the proxy. Prints {status}. */
export const PLAIN_PROXY_PROBE = `
const net = require("net");
const [phost, pport, target, token] = process.argv.slice(1);
const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
const t = setTimeout(() => out({ status: "timeout" }), 8000);
const s = net.connect({ host: phost, port: Number(pport) });
let buf = "";
s.on("connect", () => s.write("GET http://" + target + "/" + token + " HTTP/1.1\\r\\nHost: " + target + "\\r\\nConnection: close\\r\\n\\r\\n"));
s.on("data", (d) => { buf += d; });
s.on("end", () => { clearTimeout(t); out({ status: buf.split(" ")[1] || "closed" }); });
s.on("error", (e) => { clearTimeout(t); out({ status: "error", err: e.code || String(e) }); });
`;

/** Name lookup through the container's resolver. Prints {ok, addr?, err?}. */
export const DNS_PROBE = `
const dns = require("dns");
const [name] = process.argv.slice(1);
const t = setTimeout(() => { console.log(JSON.stringify({ ok: false, err: "timeout" })); process.exit(0); }, 15000);
const t0 = Date.now();
dns.lookup(name, { family: 4 }, (err, addr) => { clearTimeout(t); const ms = Date.now() - t0; console.log(JSON.stringify(err ? { ok: false, err: err.code, ms } : { ok: true, addr, ms })); });
`;

/** Tries to create a file in each path. Prints {path: "written" | errno code}. */
export const WRITE_PROBE = `
const fs = require("fs");
const r = {};
for (const p of process.argv.slice(1)) {
  try { fs.writeFileSync(p, "probe"); r[p] = "written"; fs.unlinkSync(p); } catch (e) { r[p] = e.code; }
}
console.log(JSON.stringify(r));
`;

/** GET a URL and require a JSON body (the Control UI answers unknown paths with 200 HTML). Prints {ok, status?, err?}. */
export const HEALTH_PROBE = `
const [url] = process.argv.slice(1);
const t = setTimeout(() => { console.log(JSON.stringify({ ok: false, err: "timeout" })); process.exit(0); }, 4000);
fetch(url).then(async (r) => { const text = await r.text(); let json = false; try { json = typeof JSON.parse(text) === "object"; } catch {}
  clearTimeout(t); console.log(JSON.stringify({ ok: r.ok && json, status: r.status })); })
  .catch((e) => { clearTimeout(t); console.log(JSON.stringify({ ok: false, err: String(e.cause?.code || e) })); });
`;

/** Writes a script to /tmp and executes it (noexec). Prints "rc=<code>" and what it said. */
export const NOEXEC_PROBE = `f=/tmp/probe-exec-$$.sh; printf '#!/bin/sh\\necho ran\\n' > "$f" && chmod 755 "$f" && "$f" 2>&1; echo "rc=$?"`;

/** Runs the setuid-root \`su\` on a pty and reads its UIDs while it waits for a password. */
export const SETUID_PROBE = `(sleep 4 | script -qfc 'su -c true root' /dev/null >/dev/null 2>&1 &)
sleep 1.5
grep '^NoNewPrivs' /proc/self/status | tr '\\t' ' '
for p in /proc/[0-9]*; do if [ "$(cat $p/comm 2>/dev/null)" = su ]; then grep '^Uid' $p/status | tr '\\t' ' '; fi; done`;

export const UNSHARE_USER_PROBE = `unshare -U true 2>&1; echo "rc=$?"`;
export const UNSHARE_NET_PROBE = `unshare -Urn true 2>&1; echo "rc=$?"`;
export const MOUNT_PROBE = `mkdir -p /tmp/probe-mnt; mount -t tmpfs none /tmp/probe-mnt 2>&1; echo "direct rc=$?"; unshare -Urm sh -c 'mount -t tmpfs none /tmp/probe-mnt' 2>&1; echo "userns rc=$?"`;

/** PTRACE_ATTACH (16) to a pid, wait for the stop, PTRACE_DETACH (17). x86_64 syscall 101. */
export const PTRACE_PERL = `my $p = shift; my $r = syscall(101, 16, $p + 0, 0, 0); my $e = $! + 0;
if ($r == 0) { waitpid($p, 0); syscall(101, 17, $p + 0, 0, 0); }
print "attach=$r errno=$e\\n";`;

/** The pid of the gateway's node process (not tini, not the probe itself). */
export const GATEWAY_PID = `for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); case "$c" in *openclaw*gateway*) case "$c" in *tini*) ;; *) echo \${p#/proc/};; esac;; esac; done | head -1`;

export const RAW_SOCKET_PROBE = `perl -e 'if (socket(my $s, 2, 3, 1)) { print "raw=ok\\n" } else { print "raw=fail $!\\n" }'`;

export const CHOWN_PROBE = (uid: number) => `f=/tmp/probe-chown-$$; : > "$f"; chown 0:0 "$f" 2>&1; echo "root rc=$?"; chown ${uid}:${uid} "$f" 2>&1; echo "other rc=$?"`;

export const SETUID_CALL_PROBE = (uid: number) => `setpriv --reuid=0 --regid=0 --clear-groups id -u 2>&1; echo "root rc=$?"; setpriv --reuid=${uid} --regid=${uid} --clear-groups id -u 2>&1; echo "other rc=$?"`;

/** Forks up to N children that sleep; prints how many it got and the first error. */
export const FORK_PROBE = (n: number, sleepS: number) => `perl -e 'my $n = 0; my $err = "none"; for (1..${n}) { my $p = fork(); if (!defined $p) { $err = "$!"; last } if ($p == 0) { sleep ${sleepS}; exit 0 } $n++ } print "forked=$n err=$err\\n";'`;

/** Allocates up to N × 64 MiB outside the V8 heap. */
export const MEMORY_PROBE = (chunks: number) => `
const a = [];
try { for (let i = 0; i < ${chunks}; i++) a.push(Buffer.alloc(64 * 1024 * 1024, 1)); console.log("allocated " + a.length * 64 + " MiB"); }
catch (e) { console.log("alloc-error " + e.message); }
`;
