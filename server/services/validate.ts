/**
 * Request-field checks shared by the service translators: each throws InvalidArgumentError naming
 * the proto field, so every protocol reports the same field and reason.
 */
import { InvalidArgumentError } from "../domain/errors.ts";

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Checks an opaque id such as connection_id: required, 1-128 of [A-Za-z0-9_-]. */
export function requireId(field: string, value: string): string {
  if (value === "") throw new InvalidArgumentError(field, "is required");
  if (!ID_PATTERN.test(value)) {
    throw new InvalidArgumentError(field, "must be 1-128 characters of letters, digits, '_' or '-'");
  }
  return value;
}
