/**
 * Fills `{param}` placeholders of a provider endpoint template (Shopify's `https://{shop}.myshopify.com`)
 * from a connection's params. Values are percent-encoded, so a value can never add a path, query or
 * host label; the flow also restricts their characters before they get here.
 */

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** A template named a placeholder that the connection has no value for (a profile/validation bug). */
export class MissingEndpointParamError extends Error {
  override readonly name = "MissingEndpointParamError";
  readonly param: string;
  constructor(param: string) {
    super(`endpoint placeholder {${param.slice(0, 64)}} has no value`);
    this.param = param;
  }
}

/**
 * Returns `template` with each `{name}` replaced by `encodeURIComponent(params[name])`.
 * @throws MissingEndpointParamError when a placeholder has no value.
 */
export function fillEndpointTemplate(template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value === undefined) throw new MissingEndpointParamError(name);
    return encodeURIComponent(value);
  });
}
