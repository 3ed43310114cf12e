/**
 * The message of a thrown value, for logs and progress lines: an Error's message, anything else as text. It
 * lives in common/ because the lab needs it too and does not import src/; src/domain/error-message.ts
 * re-exports it for the product, as src/domain/clock.ts does common/clock.ts.
 */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
