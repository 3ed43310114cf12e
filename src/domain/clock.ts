/** The product's clock: the one in shared/ (the only module that reads the wall clock or arms timers). */
export { FakeClock, systemClock, type Clock } from "../../shared/clock.ts";
