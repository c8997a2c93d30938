/**
 * Who a connection is at the provider (account id, e-mail, display name) and the provider values
 * kept beside it (connection metadata): non-secret, provider-supplied text, cleaned before it is
 * stored so a provider cannot push control characters or megabytes into our rows, logs or answers.
 */

/** The provider account of a connection; `id` is the provider's stable identifier. */
export interface ConnectionAccount {
  id: string;
  email: string | null;
  displayName: string | null;
}

/** Longest stored account id, e-mail, display name or metadata value (longer ones are cut). */
export const MAX_ACCOUNT_FIELD_LENGTH = 256;

/** `value` without control characters or lone surrogates, trimmed and cut to the limit; null when empty. */
export function cleanProviderText(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  const cleaned = value
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "")
    .toWellFormed()
    .trim();
  if (cleaned === "") return null;
  const cut = cleaned.slice(0, MAX_ACCOUNT_FIELD_LENGTH);
  // Don't leave half a surrogate pair at the cut.
  return cut.toWellFormed() === cut ? cut : cut.slice(0, -1);
}

/** An account from raw provider values, or null when there is no usable id. */
export function connectionAccount(raw: {
  id?: string | null;
  email?: string | null;
  displayName?: string | null;
}): ConnectionAccount | null {
  const id = cleanProviderText(raw.id);
  if (id === null) return null;
  return { id, email: cleanProviderText(raw.email), displayName: cleanProviderText(raw.displayName) };
}
