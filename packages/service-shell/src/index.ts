export { readJsonFile, readSecretFile } from "./files";
export { sendJson } from "./http";
export { heartbeatHealthcheck, httpHealthcheck, startHeartbeat } from "./health";
export { reloadConfigOnChange, stopOnSignals, type ReloadOptions, type StopOptions } from "./lifecycle";
export { errorText, jsonLog, type Log } from "./log";
export { runService, type Health, type Running, type ServiceSpec } from "./service";
export { serviceSettings, type ServiceSettings } from "./settings";
