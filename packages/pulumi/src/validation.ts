// The error type and zod issue rendering live with the formats they validate (@octw/contracts),
// so the CLI and the services get the same structured `{ path, message }` problems.
export { OctwConfigError, formatPath, issueProblem, parseOrThrow } from "@octw/contracts";
