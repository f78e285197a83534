// A minimal ustar writer: the Engine API's archive PUT (what pulumi-docker `uploads` use) takes
// a tar stream, and one regular file per upload is all we need. Kept here rather than pulling a
// tar library into the root workspace for ~40 lines.

export interface TarFile {
  /** path inside the archive, without a leading slash */
  name: string;
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(f: TarFile): Buffer {
  const h = Buffer.alloc(512, 0);
  let name = f.name;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    // ustar splits long paths at a slash into prefix (155) + name (100)
    const cut = name.lastIndexOf("/", name.length - 1);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (Buffer.byteLength(prefix) > 155 || Buffer.byteLength(name) > 100) {
      throw new Error(`tar: path too long for ustar: ${f.name}`);
    }
  }
  h.write(name, 0, 100, "utf8");
  h.write(octal(f.mode & 0o7777, 8), 100, 8, "ascii");
  h.write(octal(f.uid, 8), 108, 8, "ascii");
  h.write(octal(f.gid, 8), 116, 8, "ascii");
  h.write(octal(f.content.length, 12), 124, 12, "ascii");
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii"); // checksum field counts as spaces while summing
  h.write("0", 156, 1, "ascii"); // regular file
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, 8, "ascii");
  return h;
}

export function tarArchive(files: TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(header(f), f.content);
    const pad = (512 - (f.content.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}
