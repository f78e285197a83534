// Prints a PostgreSQL SCRAM-SHA-256 verifier for the password read from stdin (RFC 5802,
// RFC 7677; the format of pg_authid.rolpassword). Setting a role's password from a verifier
// keeps the clear password out of the server's statement logs.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

const password = readFileSync(0, "utf8").replace(/\n$/, "");
if (password.length === 0) {
  process.stderr.write("scram-verifier: the password on stdin is empty\n");
  process.exit(2);
}
const iterations = 4096;
const salt = randomBytes(16);
const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
const clientKey = createHmac("sha256", salted).update("Client Key").digest();
const storedKey = createHash("sha256").update(clientKey).digest();
const serverKey = createHmac("sha256", salted).update("Server Key").digest();
process.stdout.write(
  `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}\n`,
);
