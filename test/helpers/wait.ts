/** The bounded waits of the lab harness (lab/harness/wait.ts), which tests and benches share. */
export { Sampler, WaitTimeoutError, waitFor, waitUntil, type WaitOptions } from "../../lab/harness/wait.ts";
