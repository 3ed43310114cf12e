/** The product's clock: the one in common/ (the only module that reads the wall clock or arms timers). */
export { FakeClock, systemClock, type Clock } from "../../common/clock.ts";
