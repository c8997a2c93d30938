/**
 * Which tenant a call acts in. Until API keys and principals exist (the access-control work),
 * every call acts in the single development tenant; services ask this function, never a header,
 * so the later switch to the authenticated principal changes one place.
 */
import type { HandlerContext } from "@connectrpc/connect";

/** Returns the tenant id a call acts in. */
export type TenantResolver = (ctx: HandlerContext) => string;

/** Id of the tenant every connection lives in until principals exist. */
export const DEFAULT_TENANT_ID = "default";

/** The resolver used until authentication exists: always the default tenant. */
export const defaultTenantResolver: TenantResolver = () => DEFAULT_TENANT_ID;
