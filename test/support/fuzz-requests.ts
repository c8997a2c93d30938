/**
 * fast-check arbitraries for malformed requests to every RPC (Connect JSON and binary, Connect GET,
 * gRPC, gRPC-Web, Connect streaming) and every REST path, plus the browser routes. Bodies start from
 * a plausible message built from the method's descriptor and always carry at least one defect:
 * wrong types, huge strings, bad UTF-8 (JSON and protobuf), control characters in ids, names and
 * map keys, deep nesting, unknown fields, path traversal in ids, open-redirect return URLs,
 * out-of-range numbers and enums, reserved envelope flag bits, or garbage bytes. Templates never name
 * an existing id, and the one real provider name only travels with a refused return URL, so no
 * generated request can legitimately change the database.
 */
import { type DescField, type DescMessage, type DescMethod, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { ProviderSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { readHttpRules } from "../../server/rest/http-rules.ts";

/** One raw request, protocol-level. */
export interface RawRequest {
  /** Which client sends it. gRPC needs HTTP/2. */
  transport: "h2" | "h1";
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** For reporting only. */
  label: string;
  /** A stream that may stay open when the request was acceptable (watch, reflection). */
  isStreaming: boolean;
}

/** Which key a request carries. */
export type KeyChoice = "admin" | "agent" | "none" | "garbage";

const IDS = ["conn_does_not_exist", "key_nope", "x", "A".repeat(128), "conn-ok_1"];
const TRAVERSAL = [
  "../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e%2f",
  "conn_x/../../v1/api-keys",
  "..\\..\\windows\\win.ini",
  "%252e%252e%252f",
  "conn_x%00",
  "/etc/passwd",
  ".",
  "..",
  "%ZZ",
  "%C3%28",
  "%FF%FE",
  "conn_x?tenant_id=other",
  "conn_x#frag",
  "*",
  "conn%00x",
  "a%01b",
  "conn%0Ax",
  "%7F",
  "%C2%85",
];
/** Control characters (NUL, C0, DEL, C1) and a lone surrogate in ids and names: all refused. */
const CONTROL = ["conn\u0000x", "a\u0001b", "x\ny", "\u001b[31m", "n\u007f", "\u0085name", "u\ud800"];
/** Cross-origin and scheme tricks: every one must be refused by the return-URL allowlist. */
const OPEN_REDIRECTS = [
  "https://evil.example/cb",
  "//evil.example/cb",
  "http://localhost:3000@evil.example/",
  "javascript:alert(1)",
  "data:text/html,<script>alert(1)</script>",
  "http://evil.example\\@localhost:3000/",
  "http://localhost.evil.example:3000/",
  "http://127.0.0.1.nip.io:3000/",
  "https://evil.example%2F@localhost:3000",
  "http:/\\/evil.example",
  "\\\\evil.example",
  " https://evil.example",
  "http://evil.example\t.localhost:3000/",
  "file:///etc/passwd",
  "ftp://localhost:3000/",
  "",
];

/** Strings that look like input for the field named `name`. */
function stringFor(name: string, realProvider: string): fc.Arbitrary<string> {
  if (name.endsWith("url")) return fc.constantFrom(...OPEN_REDIRECTS);
  if (name === "provider_name") return fc.constantFrom("no-such-provider", realProvider);
  if (name.endsWith("_id") || name === "name") return fc.constantFrom(...IDS, ...TRAVERSAL, ...CONTROL);
  return fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("", "read", "openid", ...CONTROL));
}

/** A plausible JSON value for a field (right type, garbage content). */
function fieldValue(field: DescField, depth: number, realProvider: string): fc.Arbitrary<JsonValue> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.name, field.scalar, realProvider);
    case "enum":
      return fc.constantFrom(...field.enum.values.map((v) => v.name));
    case "message":
      return messageValue(field.message, depth + 1, realProvider);
    case "list": {
      const element: fc.Arbitrary<JsonValue> =
        field.listKind === "scalar"
          ? scalarValue(field.name, field.scalar, realProvider)
          : field.listKind === "enum"
            ? fc.constantFrom(...field.enum.values.map((v) => v.name))
            : messageValue(field.message, depth + 1, realProvider);
      return fc.array(element, { maxLength: 3 });
    }
    case "map":
      return fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...CONTROL)), fc.string({ maxLength: 8 }), { maxKeys: 3 });
  }
}

function scalarValue(name: string, scalar: number, realProvider: string): fc.Arbitrary<JsonValue> {
  // ScalarType: 9 string, 8 bool, 12 bytes; the rest are numbers (64-bit ones as strings in JSON).
  if (scalar === 9) return stringFor(name, realProvider);
  if (scalar === 8) return fc.boolean();
  if (scalar === 12) return fc.constantFrom("", "AAAA", "not base64!");
  return fc.integer({ min: -5, max: 600 });
}

function messageValue(desc: DescMessage, depth: number, realProvider: string): fc.Arbitrary<JsonValue> {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return fc.constantFrom("2001-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z");
    case "google.protobuf.FieldMask":
      return fc.constantFrom("display_name", "oauth.client_id", "");
    case "google.protobuf.Struct":
      return fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) as fc.Arbitrary<JsonValue>;
    case "google.protobuf.Value":
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>;
  }
  if (depth > 2) return fc.constant({});
  const entries = desc.fields
    // A real auth_type would make a CreateProvider template valid: leave it unset (rejected).
    .filter((f) => !(f.name === "auth_type" || f.name === "role"))
    .map((f) => [f.jsonName, fieldValue(f, depth, realProvider)] as const);
  return fc.record(Object.fromEntries(entries), { requiredKeys: [] }) as fc.Arbitrary<JsonValue>;
}

/** A defect applied to a JSON body (as text, so invalid JSON and bad UTF-8 are possible). */
/** Turns a plausible JSON message into request bytes with at least one defect. */
type Defect = (json: Record<string, JsonValue>, fields: readonly DescField[]) => Uint8Array;

function defect(realProvider: string): fc.Arbitrary<Defect> {
  const text = (s: string) => new TextEncoder().encode(s);
  const anyField = (fields: readonly DescField[], pick: number) => fields[pick % Math.max(1, fields.length)];
  return fc.oneof(
    fc
      .tuple(fc.nat(), fc.constantFrom<JsonValue>(42, -1, 1e308, true, [], [1, "a"], { a: 1 }, "str", null))
      .map<Defect>(([pick, wrong]) => (json, fields) => {
        const field = anyField(fields, pick);
        return text(JSON.stringify(field === undefined ? wrong : { ...json, [field.jsonName]: wrong }));
      }),
    fc.tuple(fc.nat(), fc.constantFrom(10_000, 70_000)).map<Defect>(([pick, size]) => (json, fields) => {
      const field = anyField(fields, pick);
      return text(JSON.stringify({ ...json, [field?.jsonName ?? "huge"]: "ü".repeat(size / 2) }));
    }),
    fc
      .tuple(fc.nat(), fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80]))
      .map<Defect>(([pick, bad]) => (_json, fields) => {
        const field = anyField(fields, pick);
        const prefix = text(`{"${field?.jsonName ?? "x"}":"abc`);
        return new Uint8Array([...prefix, ...bad, ...text('"}')]);
      }),
    fc.tuple(fc.nat(), fc.integer({ min: 500, max: 20_000 }), fc.boolean()).map<Defect>(([pick, depth, arrays]) => (_json, fields) => {
      const field = anyField(fields, pick);
      const [open, close] = arrays ? ["[", "]"] : ['{"a":', "}"];
      return text(`{"${field?.jsonName ?? "x"}":${open.repeat(depth)}1${close.repeat(depth)}}`);
    }),
    fc.tuple(fc.integer({ min: 90, max: 5_000 }), fc.boolean()).map<Defect>(([depth, arrays]) => () => {
      // Deep inside a google.protobuf.Struct (a provider's credential_schema), where recursion happens.
      const nested = arrays ? `${"[".repeat(depth)}1${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
      return text(`{"provider":{"name":"deep","credentialSchema":{"x":${nested}}},"name":"deep"}`);
    }),
    fc
      .constantFrom('{"evil_field":1}', '{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"x":1}}}')
      .map<Defect>((body) => (json) => {
        const extra = JSON.parse(body) as Record<string, JsonValue>;
        // JSON.parse makes "__proto__" an own key, and spreading keeps it one: it reaches the wire.
        return text(JSON.stringify({ ...json, ...extra }));
      }),
    fc
      .constantFrom(
        "{not json",
        "",
        "null",
        "[]",
        "123",
        '"str"',
        "{}{}",
        '{"a":1,',
        "\u0000\u0001",
        '{"connectionId":"a","connectionId":"b","zz":1}',
      )
      .map<Defect>((body) => () => text(body)),
    fc
      .constantFrom("1e309", "-1", "2147483648", "1.5", '"abc"', '"99999999999999999999999"', "-0", "1e-400")
      .map<Defect>((literal) => (json) => {
        const rest = JSON.stringify(json).slice(1, -1);
        return text(`{${rest}${rest === "" ? "" : ","}"pageSize":${literal},"expiresAt":${literal}}`);
      }),
    fc
      .constantFrom("ROLE_SUPERUSER", "CONNECTION_STATUS_OWNED", 99, -3)
      .map<Defect>((e) => (json) => text(JSON.stringify({ ...json, role: e, status: e, authType: e }))),
    fc
      .constantFrom(...TRAVERSAL)
      .map<Defect>((id) => (json) => text(JSON.stringify({ ...json, connectionId: id, keyId: id, name: id, tenantId: id }))),
    fc
      .constantFrom(...OPEN_REDIRECTS.filter((u) => u !== ""))
      .map<Defect>((url) => (json) => text(JSON.stringify({ ...json, returnUrl: url, userId: "u", providerName: realProvider }))),
  );
}

/** Any malformed request to any RPC, REST path or browser route of the server. */
export function malformedRequest(options: {
  methods: readonly DescMethod[];
  realProvider: string;
}): fc.Arbitrary<{ request: RawRequest; key: KeyChoice }> {
  const routes = readHttpRules(
    options.methods
      .map((m) => m.parent)
      .filter((s, i, all) => all.indexOf(s) === i)
      .filter((s) => s.typeName.startsWith("nexus.")),
  );
  const key = fc.constantFrom<KeyChoice>("admin", "admin", "admin", "agent", "none", "garbage");
  const method = fc.constantFrom(...options.methods);

  const jsonBody = method.chain((m) =>
    fc
      .tuple(messageValue(m.input, 0, options.realProvider) as fc.Arbitrary<Record<string, JsonValue>>, defect(options.realProvider))
      .map(([json, apply]) => ({
        method: m,
        json,
        body: apply(json, m.input.fields),
      })),
  );

  const deepStruct = fc
    .tuple(
      method.filter((m) => m.input.fields.some((f) => f.name === "provider")),
      fc.integer({ min: 90, max: 400 }),
    )
    .map(([m, depth]) => ({
      method: m,
      bytes: deepProviderBinary(depth),
    }));
  const binaryOnly = method.chain((m) =>
    fc
      .tuple(
        messageValue(m.input, 0, options.realProvider),
        fc.uint8Array({ maxLength: 64 }),
        fc.nat(),
        fc.constantFrom("random", "flip", "truncate", "append", "bad-utf8", "control"),
      )
      .map(([json, random, at, how]) => {
        let valid: Uint8Array;
        try {
          valid = toBinary(m.input, fromJson(m.input, json));
        } catch {
          valid = random;
        }
        if (how === "bad-utf8" || how === "control") return { method: m, bytes: withBadString(m.input, valid, at, how) };
        const bytes =
          how === "random"
            ? random
            : how === "truncate"
              ? valid.slice(0, at % (valid.length + 1))
              : how === "append"
                ? new Uint8Array([...valid, ...random])
                : flip(valid, at);
        return { method: m, bytes };
      }),
  );
  const binaryBody = fc.oneof({ arbitrary: binaryOnly, weight: 9 }, { arbitrary: deepStruct, weight: 1 });

  const rpcPath = (m: DescMethod) => `/${m.parent.typeName}/${m.name}`;
  const streaming = (m: DescMethod) => m.methodKind !== "unary";

  const connectJson = jsonBody.map(({ method: m, body }) =>
    raw(
      m.methodKind === "unary" ? "application/json" : "application/connect+json",
      "POST",
      rpcPath(m),
      m.methodKind === "unary" ? body : envelope(body),
      `connect-json ${m.name}`,
      streaming(m),
    ),
  );
  const connectBinary = binaryBody.map(({ method: m, bytes }) =>
    raw(
      m.methodKind === "unary" ? "application/proto" : "application/connect+proto",
      "POST",
      rpcPath(m),
      m.methodKind === "unary" ? bytes : envelope(bytes),
      `connect-proto ${m.name}`,
      streaming(m),
    ),
  );
  const grpc = fc
    .tuple(binaryBody, fc.constantFrom("ok", "bad-length", "compressed", "empty", "json", "reserved-flag"), reservedFlag)
    .map(([{ method: m, bytes }, frame, flags]) => {
      const body =
        frame === "bad-length"
          ? new Uint8Array([0, 0xff, 0xff, 0xff, 0xff, ...bytes])
          : frame === "compressed"
            ? new Uint8Array([1, ...envelope(bytes).slice(1)])
            : frame === "empty"
              ? new Uint8Array(0)
              : envelope(bytes, frame === "reserved-flag" ? flags : 0);
      const request = raw(
        frame === "json" ? "application/grpc+json" : "application/grpc",
        "POST",
        rpcPath(m),
        body,
        `grpc ${m.name} ${frame}`,
        streaming(m),
      );
      return { ...request, transport: "h2" as const, headers: { ...request.headers, te: "trailers" } };
    });
  const grpcWeb = fc
    .tuple(binaryBody, fc.option(reservedFlag, { freq: 4 }))
    .map(([{ method: m, bytes }, flags]) =>
      raw(
        "application/grpc-web+proto",
        "POST",
        rpcPath(m),
        envelope(bytes, flags ?? 0),
        `grpc-web ${m.name}${flags === null ? "" : " reserved-flag"}`,
        streaming(m),
      ),
    );
  const connectStreamFlags = fc
    .tuple(
      binaryBody.filter(({ method: m }) => m.methodKind !== "unary"),
      reservedFlag,
    )
    .map(([{ method: m, bytes }, flags]) =>
      raw("application/connect+proto", "POST", rpcPath(m), envelope(bytes, flags), `connect-proto ${m.name} reserved-flag`, true),
    );
  const connectGet = jsonBody
    .filter(({ method: m }) => m.idempotency === 1 && m.methodKind === "unary")
    .map(({ method: m, body }) => {
      const message = encodeURIComponent(new TextDecoder().decode(body)).slice(0, 6_000);
      return raw(undefined, "GET", `${rpcPath(m)}?connect=v1&encoding=json&message=${message}`, undefined, `connect-get ${m.name}`, false);
    });
  const connectGetProto = binaryBody
    .filter(({ method: m }) => m.idempotency === 1 && m.methodKind === "unary")
    .map(({ method: m, bytes }) =>
      raw(
        undefined,
        "GET",
        `${rpcPath(m)}?connect=v1&encoding=proto&base64=1&message=${Buffer.from(bytes).toString("base64url")}`,
        undefined,
        `connect-get-proto ${m.name}`,
        false,
      ),
    );
  const rest = fc
    .tuple(
      fc.constantFrom(...routes),
      fc.constantFrom(...TRAVERSAL, ...IDS),
      jsonBody,
      fc.constantFrom("rule", "PUT", "OPTIONS", "DELETE"),
      fc.constantFrom(
        "",
        "?page_size=-1",
        "?page_token=%ZZ",
        "?status=owned",
        "?tenant_id=../x",
        "?update_mask=a,,b",
        "?x=1&x=2",
        "?start_time=yesterday",
        `?tenant_id=${"t".repeat(3000)}`,
      ),
    )
    .map(([route, id, { body }, verb, query]) => {
      const path = route.template.template.replace(/\{[^}]+\}/g, id);
      const httpMethod = verb === "rule" ? route.httpMethod : verb;
      return raw(
        "application/json",
        httpMethod,
        `${path}${query}`,
        httpMethod === "GET" ? undefined : body,
        `rest ${httpMethod} ${route.template.template}`,
        false,
      );
    });
  const browser = fc
    .tuple(fc.constantFrom(...TRAVERSAL, ...IDS, "a".repeat(200)), fc.constantFrom("GET", "POST", "PUT"), fc.string({ maxLength: 300 }))
    .chain(([state, verb, form]) =>
      fc.constantFrom(
        raw(
          undefined,
          "GET",
          `/oauth/callback?state=${encodeURIComponent(state)}&code=${encodeURIComponent(form)}&iss=${encodeURIComponent(OPEN_REDIRECTS[0]!)}`,
          undefined,
          "oauth-callback",
          false,
        ),
        raw("application/x-www-form-urlencoded", verb, `/connect/capture/${state}`, new TextEncoder().encode(form), "capture-form", false),
      ),
    );

  const request = fc.oneof(
    { arbitrary: connectJson, weight: 4 },
    { arbitrary: connectBinary, weight: 2 },
    { arbitrary: grpc, weight: 2 },
    { arbitrary: grpcWeb, weight: 1 },
    { arbitrary: connectStreamFlags, weight: 1 },
    { arbitrary: connectGet, weight: 1 },
    { arbitrary: connectGetProto, weight: 1 },
    { arbitrary: rest, weight: 4 },
    { arbitrary: browser, weight: 1 },
  );
  return fc.record({
    request: fc.tuple(request, fc.boolean()).map(([r, h1]) => (r.transport === "h2" || !h1 ? r : { ...r, transport: "h1" as const })),
    key,
  });
}

function raw(
  contentType: string | undefined,
  method: string,
  path: string,
  body: Uint8Array | undefined,
  label: string,
  isStreaming: boolean,
): RawRequest {
  return {
    transport: "h2",
    method,
    path,
    headers: contentType === undefined ? {} : { "content-type": contentType },
    body,
    label,
    isStreaming,
  };
}

/** Envelope flags a request may not carry: gRPC allows 0 or 1 (compressed) only. */
const reservedFlag = fc.constantFrom(0x02, 0x80, 0x04, 0x40, 0x82, 0xff);

/** The 5-byte length-prefixed frame of gRPC and Connect streaming. */
function envelope(bytes: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + bytes.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, bytes.length);
  out.set(bytes, 5);
  return out;
}

/** A request whose field 1 is a Provider (field 1 name) with a credential_schema Struct nested `depth` deep. */
function deepProviderBinary(depth: number): Uint8Array {
  const credentialSchemaField = ProviderSchema.fields.find((f) => f.name === "credential_schema")!.number;
  let value = new BinaryWriter().tag(2, WireType.Bit64).double(1).finish();
  for (let i = 0; i < depth; i++) {
    const entry = new BinaryWriter().tag(1, WireType.LengthDelimited).string("a").tag(2, WireType.LengthDelimited).bytes(value).finish();
    value = new BinaryWriter()
      .tag(5, WireType.LengthDelimited)
      .bytes(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(entry).finish())
      .finish();
  }
  const entry = new BinaryWriter().tag(1, WireType.LengthDelimited).string("a").tag(2, WireType.LengthDelimited).bytes(value).finish();
  const struct = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(entry).finish();
  const provider = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string("deep")
    .tag(credentialSchemaField, WireType.LengthDelimited)
    .bytes(struct)
    .finish();
  return new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(provider).finish();
}

/** `valid` plus one string field (picked by `at`) holding bytes that are not UTF-8, or a NUL. */
function withBadString(input: DescMessage, valid: Uint8Array, at: number, how: "bad-utf8" | "control"): Uint8Array {
  const strings = input.fields.filter((f) => f.fieldKind === "scalar" && f.scalar === 9);
  const field = strings[at % Math.max(1, strings.length)];
  if (field === undefined) return valid;
  const value = how === "bad-utf8" ? new Uint8Array([0x61, 0xff, 0xfe]) : new TextEncoder().encode("a\u0000b");
  return new Uint8Array([...valid, ...new BinaryWriter().tag(field.number, WireType.LengthDelimited).bytes(value).finish()]);
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  if (bytes.length === 0) return new Uint8Array([0xff]);
  const out = bytes.slice();
  out[at % out.length] = (out[at % out.length]! ^ 0xa5) & 0xff;
  return out;
}
