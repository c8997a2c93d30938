/**
 * Strategy ⇄ proto Strategy: the one boundary where the domain's strategy union becomes the
 * generated message (type enum + oneof config) and back.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { HmacAlgorithm, HmacEncoding, StrategyType, type StrategySchema } from "../../gen/nexus/v1/credential_pb.ts";
import type { Strategy } from "../domain/strategy.ts";

/** The proto message of a domain strategy (defaults written out, so agents need no defaults table). */
export function strategyToProto(strategy: Strategy): MessageInitShape<typeof StrategySchema> {
  switch (strategy.type) {
    case "oauth2":
      return { type: StrategyType.OAUTH2 };
    case "header":
      return {
        type: StrategyType.HEADER,
        config: {
          case: "header",
          value: { headerName: strategy.headerName, credentialField: strategy.credentialField, valuePrefix: strategy.valuePrefix },
        },
      };
    case "query_param":
      return {
        type: StrategyType.QUERY_PARAM,
        config: { case: "queryParam", value: { paramName: strategy.paramName, credentialField: strategy.credentialField } },
      };
    case "basic_auth":
      return {
        type: StrategyType.BASIC_AUTH,
        config: { case: "basicAuth", value: { usernameField: strategy.usernameField, passwordField: strategy.passwordField } },
      };
    case "hmac_payload":
      return {
        type: StrategyType.HMAC_PAYLOAD,
        config: {
          case: "hmacPayload",
          value: {
            headerName: strategy.headerName,
            secretField: strategy.secretField,
            algorithm: strategy.algorithm === "sha1" ? HmacAlgorithm.SHA1 : HmacAlgorithm.SHA256,
            encoding: strategy.encoding === "base64" ? HmacEncoding.BASE64 : HmacEncoding.HEX,
          },
        },
      };
    case "aws_sigv4":
      return {
        type: StrategyType.AWS_SIGV4,
        config: { case: "awsSigv4", value: { service: strategy.service, region: strategy.region } },
      };
    default: {
      const unreachable: never = strategy;
      return unreachable;
    }
  }
}
