/**
 * The `lifeboat.dev/evacuate` node annotation as a signal source (written by a person, or handed over from
 * IMDS by `lifeboat agent`): each value seen on a node becomes one notice, once per process; a value removed
 * (served, or by a person) and written again is read again.
 */
import type { Clock } from "../domain/clock.ts";
import { errorMessage } from "../domain/error-message.ts";
import type { Notice } from "../domain/notice.ts";
import type { Logger } from "../observability/logger.ts";
import { annotationNotice, EVACUATE_ANNOTATION } from "../signals/manual/manual.ts";

export interface AnnotationRequestsDeps {
  /** The node's annotations as the informer has them; null for a node it does not know. */
  annotations: (nodeName: string) => Readonly<Record<string, string>> | null;
  /** Records the notice (the intake); rejects when it could not. */
  handle: (notice: Notice) => Promise<void>;
  /** False while this replica only stands by: a standby reads nothing (it reads every node when it leads). */
  acting: () => boolean;
  clock: Clock;
  log: Logger;
}

export class AnnotationRequests {
  readonly #deps: AnnotationRequestsDeps;
  /** Annotation values already turned into notices, per node (so each is handled once per process). */
  readonly #seen = new Map<string, string>();

  constructor(deps: AnnotationRequestsDeps) {
    this.#deps = deps;
  }

  /** On becoming leader: forget what an earlier term saw and read every node. */
  rescan(nodeNames: Iterable<string>): void {
    this.#seen.clear();
    for (const name of nodeNames) this.check(name);
  }

  /** A node was added or changed: turn a new annotation value into a notice. */
  check(nodeName: string): void {
    if (!this.#deps.acting()) return;
    const value = this.#deps.annotations(nodeName)?.[EVACUATE_ANNOTATION];
    if (value === undefined) {
      // Removed (served, or by a person): the same value written again is read again.
      this.#seen.delete(nodeName);
      return;
    }
    if (this.#seen.get(nodeName) === value) return;
    this.#seen.set(nodeName, value);
    const { log, clock } = this.#deps;
    let notice: Notice;
    try {
      notice = annotationNotice({ nodeName, value, now: clock.now() });
    } catch (err) {
      log.warn(
        { node: nodeName, value, err: errorMessage(err) },
        `ignoring annotation ${EVACUATE_ANNOTATION}`,
      );
      return;
    }
    this.#deps.handle(notice).catch((err: unknown) => {
      this.#seen.delete(nodeName);
      log.error(
        { node: nodeName, err: errorMessage(err) },
        "could not record the evacuation asked for by the annotation",
      );
    });
  }
}
