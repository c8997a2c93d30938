// Static scan of the relative imports between server/ source files (tests left out), with TypeScript's
// own parser, so the dependency test judges the code as written rather than as bundled. The graph
// is the input of the folder rules in dependency-rules.ts and of the cycle search below.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** One import edge: the file that imports, the file or package it names, and whether it is type-only. */
export type ImportEdge = { from: string; to: string; typeOnly: boolean };

/** Repository root, from this file's place in test/architecture/. */
export const repoRoot = resolve(import.meta.dirname, "..", "..");

/** Lists the .ts source files under `dir` (repository-relative), leaving tests out. */
export function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(join(repoRoot, at), { withFileTypes: true })) {
      const path = `${at}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && entry.name !== "migrations") walk(path);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        found.push(path);
      }
    }
  };
  walk(dir);
  return found.sort();
}

/** Reads the import and re-export specifiers of one file; relative ones resolve to repository paths. */
export function importsOf(file: string, text = readFileSync(join(repoRoot, file), "utf8")): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const add = (specifier: ts.Expression | undefined, typeOnly: boolean): void => {
    if (!specifier || !ts.isStringLiteral(specifier)) return;
    const name = specifier.text;
    const to = name.startsWith(".") ? relative(repoRoot, resolve(repoRoot, dirname(file), name)) : name;
    edges.push({ from: file, to, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((element) => element.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** The folder a server file belongs to: `server/rpc/interceptors/x.ts` → `rpc`; `server/app.ts` → `app.ts`. */
export function serverFolder(path: string): string | undefined {
  const parts = path.split("/");
  if (parts[0] !== "server" || parts.length < 2) return undefined;
  return parts[1];
}

/**
 * Strongly connected components of a directed graph with more than one node (Tarjan), each sorted;
 * every one of them is an import cycle.
 */
export function cycles(nodes: Iterable<string>, next: (node: string) => Iterable<string>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of next(node)) {
      if (!index.has(target)) {
        connect(target);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) connect(node);
  return found;
}
