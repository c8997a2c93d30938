/**
 * Builds the URL a browser is sent back to after consent: the caller's return_url with
 * `status=success&connection_id=…` or `status=error&error=<code>` merged into its query, replacing
 * any parameters of the same names (the seed contract; never a dead end).
 */

/** How consent ended, as reported to the return URL. */
export type ConsentOutcome = { status: "success"; connectionId: string } | { status: "error"; error: string; connectionId?: string };

/** Returns `returnUrl` with the outcome merged into its query string. */
export function buildReturnRedirect(returnUrl: string, outcome: ConsentOutcome): string {
  const url = new URL(returnUrl);
  for (const key of ["status", "connection_id", "error"]) url.searchParams.delete(key);
  url.searchParams.set("status", outcome.status);
  if (outcome.connectionId !== undefined) url.searchParams.set("connection_id", outcome.connectionId);
  if (outcome.status === "error") url.searchParams.set("error", outcome.error);
  return url.toString();
}
