/** `lifeboat run` as a child process, from the lab harness (lab/harness/controller.ts), which tests and benches share. */
export {
  ControllerExitedError,
  ControllerProcess,
  LIFEBOAT_BIN,
  spawnController,
  startController,
  type ControllerOptions,
  type LogLine,
} from "../../lab/harness/controller.ts";
