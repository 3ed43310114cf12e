/**
 * DIR/<handler>-events.jsonl: every data-plane and pod event of a run, one JSON object a line, stamped with
 * the scenario seconds since the log was opened.
 */
import { createWriteStream, type WriteStream } from "node:fs";

export class EventsLog {
  readonly #out: WriteStream;
  readonly #t0: number;
  readonly #timeScale: number;

  constructor(path: string, timeScale: number) {
    this.#out = createWriteStream(path);
    this.#t0 = performance.now();
    this.#timeScale = timeScale;
  }

  record(source: string, e: object): void {
    const t = Math.round(((performance.now() - this.#t0) / 1000 / this.#timeScale) * 100) / 100;
    this.#out.write(`${JSON.stringify({ t, source, ...e })}\n`);
  }

  end(): void {
    this.#out.end();
  }
}
