export { createRealizingMocks, newRunId, sweepDeadRuns, sweepRun, type RealizedRecord, type RealizingMocks, type RealizingMocksOptions } from "./realizing-mocks";
export { PID_LABEL, RUN_LABEL, planContainer, demuxDockerStream } from "./docker-resources";
export { SECRET_SIG_KEY, SECRET_SIG_VALUE, isSecretEnvelope, unwrapSecrets } from "./secrets";
