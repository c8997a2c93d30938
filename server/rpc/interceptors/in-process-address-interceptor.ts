/**
 * For the in-process (router) transport that REST uses only: takes the REST caller's address from
 * the `x-nexus-client-address` request header into `kClientAddress`. The REST handler drops any
 * incoming header of that name and sets it from the socket (through the trusted-proxy resolver), so
 * the value is ours; on the public port this interceptor is NOT installed and the header means nothing.
 */
import type { Interceptor } from "@connectrpc/connect";
import { CLIENT_ADDRESS_HEADER, kClientAddress } from "../../request/context.ts";

/** Creates the interceptor; install it first on the router transport's interceptor list. */
export function createInProcessAddressInterceptor(): Interceptor {
  return (next) => (req) => {
    const address = req.header.get(CLIENT_ADDRESS_HEADER);
    if (address !== null) req.contextValues.set(kClientAddress, address.slice(0, 64));
    return next(req);
  };
}
