export * from "./config";
export * from "./engine";
export * from "./routes";
export * from "./server";
export * from "./waker";
