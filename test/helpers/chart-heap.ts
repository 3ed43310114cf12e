/** The chart's heap flags for a controller outside a cluster (lab/harness/chart-heap.ts), for the chart tests. */
export { chartNodeOptions, memoryBytes, resolveHeapPercentage } from "../../lab/harness/chart-heap.ts";
