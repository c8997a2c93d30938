/**
 * Checks the text of every request message, whatever the protocol (REST arrives here through the
 * router transport): identifiers, names, map keys and values must be valid UTF-8 without control
 * characters (services/request-fields.ts). Runs inside auth, so a caller without a key learns nothing
 * about its input; a refusal is InvalidArgument naming the field (ErrorInfo INVALID_FIELD).
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { checkMessageText } from "../../services/request-fields.ts";

/** Creates the input interceptor. */
export function createInputInterceptor(): Interceptor {
  // Not an async layer (nothing here waits); a refusal thrown at once still reaches the caller as a rejection.
  return (next) => (req) => {
    if (!req.stream) {
      checkMessageText(req.method.input, req.message);
      return next(req);
    }
    return next({ ...req, message: checkEach(req.method.input, req.message) });
  };
}

async function* checkEach<T extends Message>(input: DescMessage, messages: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const message of messages) {
    checkMessageText(input, message);
    yield message;
  }
}
