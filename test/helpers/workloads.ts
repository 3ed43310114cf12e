/** Fast workload fixtures, from the lab harness (lab/harness/fast-workloads.ts), which tests and benches share. */
export { fastDeployment, fastStatefulSet, type FastWorkload } from "../../lab/harness/fast-workloads.ts";
