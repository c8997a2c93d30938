/**
 * The minimal HTML page the OAuth callback shows when it cannot redirect (no trustworthy state),
 * and the security headers every callback answer carries. Text is escaped; the page has no script,
 * no external resource and can't be framed.
 */

/** Headers of every callback answer: never cached, never leaking the state-bearing URL as a Referer. */
export const CALLBACK_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
};

/** Headers of the HTML page. */
export const CONSENT_PAGE_HEADERS: Readonly<Record<string, string>> = {
  ...CALLBACK_RESPONSE_HEADERS,
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
};

/** Renders the page; `title` and `message` are escaped. */
export function renderConsentPage(page: { title: string; message: string }): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style>
</head>
<body>
<h1>${escapeHtml(page.title)}</h1>
<p>${escapeHtml(page.message)}</p>
</body>
</html>
`;
}

/** Escapes the five HTML-significant characters. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
