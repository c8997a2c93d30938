/**
 * Start-up cost of Node's ESM resolver, cut without changing what resolves to what.
 *
 * For every `.js` module it loads, Node 24 looks up the file's package scope to learn its format
 * (`"type"`), and that lookup copies the package.json's fields with a spread, which re-parses the
 * lazily kept `"exports"` JSON each time (internal/modules/package_json_reader,
 * getPackageScopeConfig). drizzle-orm's exports map is ~130 kB and a SQLite server loads ~110 of
 * its files: ~0.25 s of parsing plus the garbage, about 40 % of a start.
 *
 * The hook answers only imports of the form `./x.js` / `../x.js` from a file inside an installed
 * package (`…/node_modules/<pkg>/`) to another file of the same package, when that file exists, is
 * its own real path, and its nearest package.json says `"type": "module"` — exactly the case in
 * which Node's resolver returns that file URL with format `module`. Anything else (bare specifiers,
 * our own `.ts` files, CommonJS, `require`, a missing file, a symlink, a query or percent-encoding)
 * goes to Node's resolver unchanged, so errors and edge cases are Node's own.
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import module from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const NODE_MODULES = "/node_modules/";

/** What the hook needs of Node's resolve context. */
export interface ResolveContext {
  parentURL?: string | undefined;
  conditions?: readonly string[];
}

/** An answer of the hook: the file and its format, as Node's resolver would give them. */
export interface ResolvedModule {
  url: string;
  format: "module";
}

/**
 * The resolver: `resolve(specifier, context)` returns the answer when the import is one it handles,
 * else undefined (the caller then asks Node). Caches package.json types per directory and answers
 * per target URL (a module is typically imported from several files).
 */
export function createPackageFormatResolver(): (specifier: string, context: ResolveContext) => ResolvedModule | undefined {
  // Directory → the "type" of its package.json ("" when it has none), null without a package.json.
  const typeInDirectory = new Map<string, string | null>();
  const packageJsonType = (directory: string): string | null => {
    let type = typeInDirectory.get(directory);
    if (type === undefined) {
      let text: string | undefined;
      try {
        text = readFileSync(join(directory, "package.json"), "utf8");
      } catch {
        // No package.json here (or unreadable): keep looking upwards.
      }
      type = text === undefined ? null : typeField(text);
      typeInDirectory.set(directory, type);
    }
    return type;
  };
  const answers = new Map<string, ResolvedModule | null>();
  const answer = (url: string, packageRoot: string): ResolvedModule | null => {
    let path: string;
    try {
      path = fileURLToPath(url);
      if (statSync(path, { throwIfNoEntry: false })?.isFile() !== true) return null;
      if (realpathSync.native(path) !== path) return null;
    } catch {
      return null;
    }
    // The nearest package.json decides the format, as for Node (a nested one may say commonjs).
    const rootPath = fileURLToPath(packageRoot);
    for (let directory = dirname(path); ; directory = dirname(directory)) {
      const type = packageJsonType(directory);
      if (type !== null) return type === "module" ? { url: pathToFileURL(path).href, format: "module" } : null;
      if (`${directory}/` === rootPath || directory === dirname(directory)) return null;
    }
  };
  return (specifier, context) => {
    const parentURL = context.parentURL;
    if (
      parentURL === undefined ||
      !parentURL.startsWith("file:///") ||
      !(specifier.startsWith("./") || specifier.startsWith("../")) ||
      !specifier.endsWith(".js") ||
      /[%?#\\]/.test(specifier) ||
      !(context.conditions ?? []).includes("import")
    ) {
      return undefined;
    }
    const at = parentURL.lastIndexOf(NODE_MODULES);
    if (at < 0) return undefined;
    // The package's root URL: node_modules/<name>/ or node_modules/@scope/<name>/.
    const parts = parentURL.slice(at + NODE_MODULES.length).split("/");
    const nameParts = parts[0]?.startsWith("@") ? 2 : 1;
    if (parts.length <= nameParts) return undefined;
    const packageRoot = `${parentURL.slice(0, at + NODE_MODULES.length)}${parts.slice(0, nameParts).join("/")}/`;
    const url = new URL(specifier, parentURL).href;
    if (!url.startsWith(packageRoot) || url.includes(NODE_MODULES, packageRoot.length)) return undefined;
    let found = answers.get(url);
    if (found === undefined) {
      found = answer(url, packageRoot);
      answers.set(url, found);
    }
    return found ?? undefined;
  };
}

/** The "type" field of a package.json text ("" when absent or unparsable: Node's resolver decides). */
function typeField(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    const type = typeof parsed === "object" && parsed !== null ? (parsed as { type?: unknown }).type : undefined;
    return typeof type === "string" ? type : "";
  } catch {
    return "";
  }
}

/**
 * The cache key of a bare specifier (`drizzle-orm/sqlite-core`) imported from a file: Node's
 * answer depends only on the importing file's directory (node_modules lookup, self-reference) and
 * the conditions, so files of one folder importing the same package share it. Undefined for
 * anything else (relative, URL, `node:`, `#imports`, import attributes).
 */
export function bareSpecifierKey(specifier: string, context: ResolveContext & { importAttributes?: object }): string | undefined {
  const parentURL = context.parentURL;
  if (parentURL === undefined || !parentURL.startsWith("file:///") || !/^[@\w]/.test(specifier) || specifier.includes(":"))
    return undefined;
  if (context.importAttributes !== undefined && Object.keys(context.importAttributes).length > 0) return undefined;
  return `${(context.conditions ?? []).join(",")}\n${parentURL.slice(0, parentURL.lastIndexOf("/") + 1)}\n${specifier}`;
}

/**
 * Registers the resolver as a synchronous module hook for the rest of the process (Node's
 * `module.registerHooks`), with Node's answers for bare specifiers kept per importing folder; a
 * Node without hooks starts as before. Call before importing the app.
 */
export function registerPackageFormatHook(): void {
  if (typeof module.registerHooks !== "function") return;
  const resolve = createPackageFormatResolver();
  const bare = new Map<string, { url: string; format?: string | null | undefined }>();
  module.registerHooks({
    resolve(specifier, context, nextResolve) {
      const answer = resolve(specifier, context);
      if (answer !== undefined) return { ...answer, shortCircuit: true };
      const key = bareSpecifierKey(specifier, context);
      const known = key === undefined ? undefined : bare.get(key);
      if (known !== undefined) return { ...known, shortCircuit: true };
      const resolved = nextResolve(specifier, context);
      if (key !== undefined) bare.set(key, { url: resolved.url, format: resolved.format });
      return resolved;
    },
  });
}
