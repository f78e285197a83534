export * from "./config";
export * from "./tenancy";
export * from "./shapes";
export * from "./limits";
export * from "./keys";
export * from "./server";
export * from "./policy";
