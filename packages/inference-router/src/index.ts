export * from "./tenancy";
export * from "./shapes";
export * from "./body";
export * from "./destination";
export * from "./limits";
export * from "./keys";
export * from "./server";
