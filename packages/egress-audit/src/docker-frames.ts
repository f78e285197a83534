// Docker's log stream for a container without a TTY is multiplexed: each frame is an 8-byte
// header (stream type, 3 zero bytes, payload length as uint32 big-endian) and the payload.
// Frames do not align with lines, so payloads are re-split into lines here.

export interface LogLine {
  stream: "stdout" | "stderr";
  text: string;
}

export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private readonly partial = { stdout: "", stderr: "" };

  /** Feeds bytes; returns the complete lines they finish. */
  push(chunk: Buffer): LogLine[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const lines: LogLine[] = [];
    while (this.buf.length >= 8) {
      const type = this.buf[0];
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const payload = this.buf.subarray(8, 8 + size).toString("utf8");
      this.buf = this.buf.subarray(8 + size);
      if (type !== 1 && type !== 2) continue; // stdin (0) or garbage: nothing to ship
      const stream = type === 1 ? "stdout" : "stderr";
      const parts = (this.partial[stream] + payload).split("\n");
      this.partial[stream] = parts.pop() ?? "";
      // A line longer than any access-log line is cut, not accumulated forever.
      if (this.partial[stream].length > 65_536) this.partial[stream] = "";
      for (const text of parts) lines.push({ stream, text });
    }
    return lines;
  }
}

/** With `timestamps=1`, Docker prefixes each line with RFC 3339 nano time and a space. */
export function splitTimestamp(line: string): { time?: string; text: string } {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z) (.*)$/s.exec(line);
  return m ? { time: m[1]!, text: m[2]! } : { text: line };
}
