// The folder rules of server/, written down once, and the check that holds an import graph against
// them. Data flows listener → interceptors → services → domain → store/vault: a folder may import
// only folders on a LOWER layer, so no two folders can import each other, even through others.
// README.md (Development) summarises these rules; dependency-rules.test.ts runs the check.
import { cycles, type ImportEdge, serverFolder } from "./import-graph.ts";

/**
 * Each server folder's layer (top-level files by name). A folder imports only folders with a
 * smaller number; a new folder needs a line here before the dependency test passes.
 */
export const FOLDER_LAYERS: Readonly<Record<string, number>> = {
  "main.ts": 14, // process entry: config → app → listen
  "app.ts": 13, // composition root: builds each dependency once
  cli: 13, // the nexus command: talks to the API or opens the store directly
  app: 12, // the rest of the composition root: access control, interceptor order
  rest: 11, // REST transcoding over the in-process RPC transport
  proxy: 11, // /v1/proxy: the credential-injecting proxy (authenticates like the RPC interceptor)
  rpc: 10, // routes, errors, interceptors
  services: 9, // one file per proto service: proto ⇄ domain calls, nothing else
  watch: 8, // credential watch fan-out
  tokens: 7, // what reaches an agent
  maintenance: 7, // timers: stale consents, secret rotation
  webhooks: 7, // webhook signing, SSRF target rules, the delivery worker
  capture: 7, // key capture page
  refresh: 6, // refresh engine
  revocation: 6, // revoke at the provider, then locally
  consent: 6, // OAuth consent flow
  oauth: 5, // OAuth protocol calls
  audit: 5, // audit writer and actions
  auth: 5, // API keys, tenant scope
  "proto-mapping": 5, // proto ⇄ domain values (status, strategy, provider profile)
  http: 5, // listener, CORS, client addresses
  reflection: 5, // grpc reflection and health
  request: 4, // per-request context keys, the principal
  providers: 4, // provider profiles as data
  lifecycle: 4, // the one path of status changes: the table, then the store's compare-and-set
  store: 3, // persistence: interface, SQLite, PostgreSQL
  logging: 2,
  metrics: 2,
  limits: 2,
  vault: 2,
  startup: 1, // process start-up helpers main.ts runs before importing the app (module hooks)
  config: 1, // typed configuration and its defaults: anyone may read them
  domain: 0, // states, strategies, errors: imports no other server folder
};

/** Edges named outright (beyond the layers): who never imports what, and why. */
export const FORBIDDEN: readonly { from: string; to: RegExp; why: string }[] = [
  { from: "domain", to: /^server\/(?!domain\/)/, why: "domain imports nothing from other server folders" },
  { from: "store", to: /^(gen\/|server\/(services|rpc|rest|http)\/)/, why: "store never imports gen, services, rpc, rest or http" },
  { from: "services", to: /^server\/(http|rest|rpc)\//, why: "services never import http, rest or rpc (they are called by them)" },
  { from: "*", to: /^(test|bench|examples)\//, why: "server source never imports test support, benches or examples" },
];

/** Checks edges (from server/ and client/ source files) against the rules; returns one line per violation. */
export function violations(edges: readonly ImportEdge[], files: readonly string[]): string[] {
  const found: string[] = [];
  const folders = new Set(files.map(serverFolder).filter((folder) => folder !== undefined));
  for (const folder of folders) {
    if (FOLDER_LAYERS[folder] === undefined) found.push(`server/${folder} has no layer in FOLDER_LAYERS`);
  }
  for (const edge of edges) {
    const from = serverFolder(edge.from);
    if (from === undefined) continue;
    for (const rule of FORBIDDEN) {
      if ((rule.from === "*" || rule.from === from) && rule.to.test(edge.to)) found.push(`${edge.from} → ${edge.to}: ${rule.why}`);
    }
    const to = serverFolder(edge.to);
    if (to === undefined || to === from) continue;
    const [fromLayer, toLayer] = [FOLDER_LAYERS[from], FOLDER_LAYERS[to]];
    if (fromLayer !== undefined && toLayer !== undefined && toLayer >= fromLayer) {
      found.push(`${edge.from} → ${edge.to}: ${from} (layer ${fromLayer}) may import only lower layers, ${to} is layer ${toLayer}`);
    }
  }
  const known = new Set(files);
  const fileNext = new Map<string, string[]>();
  const folderNext = new Map<string, Set<string>>();
  for (const edge of edges) {
    if (!known.has(edge.to)) continue;
    fileNext.set(edge.from, [...(fileNext.get(edge.from) ?? []), edge.to]);
    const [from, to] = [serverFolder(edge.from), serverFolder(edge.to)];
    if (from !== undefined && to !== undefined && from !== to) folderNext.set(from, (folderNext.get(from) ?? new Set()).add(to));
  }
  for (const cycle of cycles(folderNext.keys(), (folder) => folderNext.get(folder) ?? [])) {
    found.push(`import cycle between folders: ${cycle.join(", ")}`);
  }
  for (const cycle of cycles(files, (file) => fileNext.get(file) ?? [])) found.push(`import cycle between files: ${cycle.join(", ")}`);
  return found;
}
