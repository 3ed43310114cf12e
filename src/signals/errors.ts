import type { Notice } from "../domain/notice.ts";

/**
 * Thrown by a notice handler when no node of this cluster runs the notice's instance (another cluster shares the
 * queue, or the node is already gone). The SQS consumer treats it by its `foreign` policy instead of as a failure.
 */
export class ForeignInstanceError extends Error {
  override readonly name = "ForeignInstanceError";
  readonly notice: Notice;
  constructor(notice: Notice, detail = "no node of this cluster has that instance") {
    super(`${describeTarget(notice)}: ${detail}`);
    this.notice = notice;
  }
}

export function isForeignInstanceError(err: unknown): err is ForeignInstanceError {
  return err instanceof ForeignInstanceError;
}

function describeTarget(notice: Notice): string {
  return notice.target.kind === "instance"
    ? `instance ${notice.target.instanceId}`
    : `node ${notice.target.nodeName}`;
}
