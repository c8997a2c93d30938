/**
 * The HTML of the hosted credential form and of its message pages: static markup, inline CSS, no
 * script. Every piece of text it is given (provider names, schema titles, messages) is operator or
 * user data and is escaped here; it never receives a secret value to echo.
 */
import type { FormField } from "./credential-form.ts";
import { ACTION_FIELD } from "./credential-form.ts";

/** What the form page shows. */
export interface FormPageView {
  providerDisplayName: string;
  /** Host of the return URL, shown so the user knows where they go next; null when none. */
  returnHost: string | null;
  fields: readonly FormField[];
  /** Values to put back into non-secret inputs (after a failed submission). */
  values: Readonly<Record<string, string>>;
  fieldErrors: Readonly<Record<string, string>>;
  formErrors: readonly string[];
  expiresInMinutes: number;
}

/** What a message page (invalid link, refused request) shows. */
export interface MessagePageView {
  title: string;
  message: string;
}

/** Renders the credential form; it posts back to its own URL (no `action`, so a path prefix survives). */
export function renderFormPage(view: FormPageView): string {
  const name = escapeHtml(view.providerDisplayName);
  const destination = view.returnHost ? ` You will then be returned to <strong>${escapeHtml(view.returnHost)}</strong>.` : "";
  const alert =
    view.formErrors.length === 0
      ? ""
      : `<div class="alert" role="alert">${view.formErrors.map((e) => `<p>${escapeHtml(e)}</p>`).join("")}</div>`;
  const minutes = Math.max(1, view.expiresInMinutes);
  return page(
    `Connect ${name}`,
    `<h1>Connect ${name}</h1>
<p class="lead">Enter your ${name} credentials. Nexus encrypts them and lets your app use them on your behalf.${destination}</p>
${alert}<form method="post" accept-charset="utf-8" autocomplete="off">
${view.fields.map((field, index) => renderField(field, index, view)).join("\n")}
<div class="actions">
<button type="submit" class="primary" name="${ACTION_FIELD}" value="submit">Connect</button>
<button type="submit" name="${ACTION_FIELD}" value="cancel" formnovalidate>Cancel</button>
</div>
</form>
<p class="foot">This page works once and expires in about ${minutes} minute${minutes === 1 ? "" : "s"}.</p>`,
  );
}

/** Renders a page that only says what happened (no form, no link: there is nowhere trusted to go). */
export function renderMessagePage(view: MessagePageView): string {
  return page(escapeHtml(view.title), `<h1>${escapeHtml(view.title)}</h1>\n<p class="lead">${escapeHtml(view.message)}</p>`);
}

function renderField(field: FormField, index: number, view: FormPageView): string {
  const id = `f${index}`;
  const error = view.fieldErrors[field.name];
  const described = [field.description !== null ? `${id}-help` : "", error !== undefined ? `${id}-error` : ""].filter(Boolean).join(" ");
  // Secret values are never sent back, even after a failed submission: the user types them again.
  const value = field.isSecret ? null : (view.values[field.name] ?? field.defaultValue);
  const attrs = [
    `id="${id}"`,
    `name="${escapeHtml(field.name)}"`,
    field.isRequired ? "required" : "",
    described ? `aria-describedby="${described}"` : "",
    error !== undefined ? `aria-invalid="true"` : "",
  ];
  let control: string;
  if (field.options !== null) {
    const options = [`<option value="">${field.isRequired ? "Choose…" : "—"}</option>`]
      .concat(field.options.map((o) => `<option value="${escapeHtml(o)}"${o === value ? " selected" : ""}>${escapeHtml(o)}</option>`))
      .join("");
    control = `<select ${join(attrs)}>${options}</select>`;
  } else {
    attrs.push(
      field.isSecret ? `type="password"` : `type="text"`,
      `autocomplete="off"`,
      `spellcheck="false"`,
      `autocapitalize="off"`,
      field.maxLength !== null ? `maxlength="${field.maxLength}"` : "",
      field.minLength !== null ? `minlength="${field.minLength}"` : "",
      field.htmlPattern !== null ? `pattern="${escapeHtml(field.htmlPattern)}"` : "",
      field.htmlPattern !== null ? `title="${escapeHtml(field.description ?? "The expected format")}"` : "",
      field.placeholder !== null ? `placeholder="${escapeHtml(field.placeholder)}"` : "",
      value !== null && value !== undefined ? `value="${escapeHtml(value)}"` : "",
    );
    control = `<input ${join(attrs)}>`;
  }
  const marker = field.isRequired ? `<span class="req" aria-hidden="true">*</span>` : "";
  return `<div class="field${error !== undefined ? " invalid" : ""}">
<label for="${id}">${escapeHtml(field.label)}${marker}</label>
${control}
${field.description !== null ? `<p class="help" id="${id}-help">${escapeHtml(field.description)}</p>` : ""}
${error !== undefined ? `<p class="error" id="${id}-error">${escapeHtml(error)}</p>` : ""}
</div>`;
}

function join(attrs: readonly string[]): string {
  return attrs.filter(Boolean).join(" ");
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

const CSS = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#f6f8fa;--card:#fff;--line:#d1d9e0;--accent:#0969da;--err:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#151b23;--line:#3d444d;--accent:#2f81f7;--err:#f85149}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;justify-content:center;align-items:flex-start;padding:56px 16px;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:440px;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:28px 28px 18px;box-shadow:0 1px 3px rgba(31,35,40,.08)}
h1{font-size:20px;line-height:1.3;margin:0 0 8px;overflow-wrap:anywhere}
p{margin:0}
.lead{color:var(--muted);margin-bottom:22px;overflow-wrap:anywhere}
.field{margin-bottom:16px}
label{display:block;font-weight:600;margin-bottom:6px;overflow-wrap:anywhere}
.req{color:var(--err);margin-left:3px}
input,select{display:block;width:100%;padding:8px 10px;font:inherit;color:inherit;background:var(--card);border:1px solid var(--line);border-radius:6px}
input:focus,select:focus{outline:2px solid var(--accent);outline-offset:-1px;border-color:var(--accent)}
.help{margin-top:6px;color:var(--muted);font-size:13px;overflow-wrap:anywhere}
.error{margin-top:6px;color:var(--err);font-size:13px}
.invalid input,.invalid select{border-color:var(--err)}
.alert{border:1px solid var(--err);border-radius:6px;color:var(--err);padding:10px 12px;margin-bottom:18px}
.actions{display:flex;gap:8px;margin-top:22px}
button{font:inherit;font-weight:600;padding:8px 16px;border-radius:6px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer}
button.primary{flex:1;background:var(--accent);border-color:var(--accent);color:#fff}
button:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.foot{margin-top:20px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:13px}
`;
