export * from "./squid-log";
export * from "./aggregator";
export * from "./docker-frames";
export * from "./docker-engine";
export * from "./shipper";
export * from "./config";
export * from "./runner";
