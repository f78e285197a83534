// A throwaway DNS server for scripts/test-env.sh's engine check: listens on UDP <addr>:53,
// answers every A query with <answer> (other types: no records), prints each query name on
// stdout, and exits after <seconds>. Usage: node dns-check-listener.mjs <addr> <answer> <seconds>
import { createSocket } from "node:dgram";

const [addr, answer, seconds] = process.argv.slice(2);
if (!addr || !answer || !seconds) {
  process.stderr.write("usage: dns-check-listener.mjs <addr> <answer-ipv4> <seconds>\n");
  process.exit(2);
}

function readName(msg, offset) {
  const labels = [];
  let i = offset;
  while (i < msg.length && msg[i] !== 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString("latin1"));
    i += msg[i] + 1;
  }
  return { name: labels.join("."), end: i + 1 };
}

const socket = createSocket("udp4");
socket.on("message", (msg, peer) => {
  if (msg.length < 12) return;
  const { name, end } = readName(msg, 12);
  const qtype = msg.readUInt16BE(end);
  const question = msg.subarray(12, end + 4);
  process.stdout.write(`${name} ${qtype} from ${peer.address}\n`);
  const isA = qtype === 1;
  const header = Buffer.alloc(12);
  msg.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8180, 2); // response, recursion desired + available, NOERROR
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(isA ? 1 : 0, 6);
  const parts = [header, question];
  if (isA) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(5, 6);
    rr.writeUInt16BE(4, 10);
    answer.split(".").forEach((octet, k) => rr.writeUInt8(Number(octet), 12 + k));
    parts.push(rr);
  }
  socket.send(Buffer.concat(parts), peer.port, peer.address);
});
socket.on("error", (err) => {
  process.stderr.write(`dns-check-listener: ${err.message}\n`);
  process.exit(1);
});
socket.bind(53, addr, () => process.stderr.write(`listening on ${addr}:53\n`));
setTimeout(() => process.exit(0), Number(seconds) * 1000).unref();
