/**
 * The few parts of oidc-provider 9 (untyped JavaScript) that test/support/oidc-provider.ts uses.
 * Test-only: the server never imports oidc-provider.
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  /** An OpenID Provider (a Koa application). */
  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
  export default Provider;
}
