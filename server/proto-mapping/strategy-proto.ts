/**
 * Strategy ⇄ proto Strategy: the one boundary where the domain's flat strategy value becomes the
 * proto's type enum plus oneof config and back. Output is fully defaulted (the domain value is);
 * input is returned unvalidated for validate-profile.ts, except that a config not matching the type
 * is refused here because the domain shape cannot express it.
 */
import { create } from "@bufbuild/protobuf";
import {
  HmacAlgorithm,
  HmacEncoding,
  type Strategy as ProtoStrategy,
  StrategySchema,
  StrategyType,
} from "../../gen/nexus/v1/credential_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import type { StrategyType as DomainStrategyType, Strategy } from "../domain/strategy.ts";
import type { StrategyInput } from "../providers/profile-input.ts";

const TYPE_TO_PROTO: Readonly<Record<DomainStrategyType, StrategyType>> = {
  oauth2: StrategyType.OAUTH2,
  header: StrategyType.HEADER,
  query_param: StrategyType.QUERY_PARAM,
  basic_auth: StrategyType.BASIC_AUTH,
  hmac_payload: StrategyType.HMAC_PAYLOAD,
  aws_sigv4: StrategyType.AWS_SIGV4,
};

// The oneof case (protobuf-es camelCase) and its proto field name, per strategy type.
const CONFIG_CASE: Readonly<Record<DomainStrategyType, { case: string; field: string } | undefined>> = {
  oauth2: undefined,
  header: { case: "header", field: "header" },
  query_param: { case: "queryParam", field: "query_param" },
  basic_auth: { case: "basicAuth", field: "basic_auth" },
  hmac_payload: { case: "hmacPayload", field: "hmac_payload" },
  aws_sigv4: { case: "awsSigv4", field: "aws_sigv4" },
};

/** The proto Strategy of a domain strategy, every default spelt out. */
export function strategyToProto(strategy: Strategy): ProtoStrategy {
  const type = TYPE_TO_PROTO[strategy.type];
  switch (strategy.type) {
    case "oauth2":
      return create(StrategySchema, { type });
    case "header":
      return create(StrategySchema, {
        type,
        config: {
          case: "header",
          value: { headerName: strategy.headerName, credentialField: strategy.credentialField, valuePrefix: strategy.valuePrefix },
        },
      });
    case "query_param":
      return create(StrategySchema, {
        type,
        config: { case: "queryParam", value: { paramName: strategy.paramName, credentialField: strategy.credentialField } },
      });
    case "basic_auth":
      return create(StrategySchema, {
        type,
        config: { case: "basicAuth", value: { usernameField: strategy.usernameField, passwordField: strategy.passwordField } },
      });
    case "hmac_payload":
      return create(StrategySchema, {
        type,
        config: {
          case: "hmacPayload",
          value: {
            headerName: strategy.headerName,
            secretField: strategy.secretField,
            algorithm: strategy.algorithm === "sha1" ? HmacAlgorithm.SHA1 : HmacAlgorithm.SHA256,
            encoding: strategy.encoding === "base64" ? HmacEncoding.BASE64 : HmacEncoding.HEX,
          },
        },
      });
    case "aws_sigv4":
      return create(StrategySchema, {
        type,
        config: { case: "awsSigv4", value: { service: strategy.service, region: strategy.region } },
      });
    default: {
      const unreachable: never = strategy;
      return unreachable;
    }
  }
}

/**
 * The strategy input of a proto Strategy; empty strings and UNSPECIFIED enums become absent so
 * validation fills defaults or reports "is required". `field` is the proto path for errors.
 * @throws InvalidArgumentError for an unknown type or a config that does not match the type.
 */
export function strategyFromProto(proto: ProtoStrategy, field = "strategy"): Partial<StrategyInput> {
  const input = readStrategy(proto, field);
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<StrategyInput>;
}

function readStrategy(proto: ProtoStrategy, field: string): Partial<StrategyInput> {
  if (proto.type === StrategyType.UNSPECIFIED) return {};
  const type = (Object.keys(TYPE_TO_PROTO) as DomainStrategyType[]).find((t) => TYPE_TO_PROTO[t] === proto.type);
  if (type === undefined) throw new InvalidArgumentError(`${field}.type`, "is not a known strategy type");
  const expected = CONFIG_CASE[type];
  const config = proto.config;
  if (config.case !== undefined && config.case !== expected?.case) {
    const given = Object.values(CONFIG_CASE).find((c) => c?.case === config.case);
    throw new InvalidArgumentError(`${field}.${given?.field ?? "config"}`, `does not match strategy type ${type}`);
  }
  const orUndefined = (value: string) => (value === "" ? undefined : value);
  switch (config.case) {
    case undefined:
      return { type };
    case "header":
      return {
        type: "header",
        headerName: orUndefined(config.value.headerName),
        credentialField: orUndefined(config.value.credentialField),
        valuePrefix: orUndefined(config.value.valuePrefix),
      };
    case "queryParam":
      return {
        type: "query_param",
        paramName: orUndefined(config.value.paramName),
        credentialField: orUndefined(config.value.credentialField),
      };
    case "basicAuth":
      return {
        type: "basic_auth",
        usernameField: orUndefined(config.value.usernameField),
        passwordField: orUndefined(config.value.passwordField),
      };
    case "hmacPayload": {
      const { algorithm, encoding } = config.value;
      if (algorithm !== HmacAlgorithm.UNSPECIFIED && algorithm !== HmacAlgorithm.SHA256 && algorithm !== HmacAlgorithm.SHA1) {
        throw new InvalidArgumentError(`${field}.hmac_payload.algorithm`, "is not a known algorithm");
      }
      if (encoding !== HmacEncoding.UNSPECIFIED && encoding !== HmacEncoding.HEX && encoding !== HmacEncoding.BASE64) {
        throw new InvalidArgumentError(`${field}.hmac_payload.encoding`, "is not a known encoding");
      }
      return {
        type: "hmac_payload",
        headerName: orUndefined(config.value.headerName),
        secretField: orUndefined(config.value.secretField),
        algorithm: algorithm === HmacAlgorithm.SHA1 ? "sha1" : algorithm === HmacAlgorithm.SHA256 ? "sha256" : undefined,
        encoding: encoding === HmacEncoding.BASE64 ? "base64" : encoding === HmacEncoding.HEX ? "hex" : undefined,
      };
    }
    case "awsSigv4":
      return { type: "aws_sigv4", service: orUndefined(config.value.service), region: orUndefined(config.value.region) };
    default: {
      const unreachable: never = config;
      return unreachable;
    }
  }
}
