// Static scan for connection statuses handled outside the transition table: a comparison of a
// status with a literal state name, a switch over one, or a hand-kept list of states. Code asks
// domain/connection-status.ts instead (isUsable, endsWatch, allowedFrom, …). And the static scan
// for status writes that bypass server/lifecycle/connection-transition.ts, the one path that asks
// the table before the store's compare-and-set. TypeScript's parser reads both.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { CONNECTION_STATUSES } from "../../server/domain/connection-status.ts";
import { repoRoot } from "./import-graph.ts";

/** One raw use of a status: file, 1-based line, what kind, and the source text. */
export type RawStatusUse = { file: string; line: number; kind: "comparison" | "switch" | "status list"; text: string };

const STATES: ReadonlySet<string> = new Set(CONNECTION_STATUSES);
const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);

const isStateLiteral = (node: ts.Node) => ts.isStringLiteralLike(node) && STATES.has(node.text);
// "connection.status", "row.status", "status", "stored?.status": what names a connection's state.
const namesStatus = (node: ts.Node, sf: ts.SourceFile) => /(^|\.)status$/i.test(node.getText(sf).replace(/\?\./g, "."));

/** The raw status uses in `text` (the content of `file`). */
export function rawStatusUses(file: string, text: string): RawStatusUse[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: RawStatusUse[] = [];
  const add = (node: ts.Node, kind: RawStatusUse["kind"]) =>
    found.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, kind, text: node.getText(sf) });
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
      const [l, r] = [node.left, node.right];
      if ((isStateLiteral(l) && namesStatus(r, sf)) || (isStateLiteral(r) && namesStatus(l, sf))) add(node, "comparison");
    } else if (ts.isCallExpression(node) && /(^|\.)(eq|ne)$/.test(node.expression.getText(sf))) {
      // drizzle's eq(connections.status, "active"): the same comparison, done in SQL.
      const [a, b] = node.arguments;
      if (a !== undefined && b !== undefined && namesStatus(a, sf) && isStateLiteral(b)) add(node, "comparison");
    } else if (ts.isSwitchStatement(node) && node.caseBlock.clauses.some((c) => ts.isCaseClause(c) && isStateLiteral(c.expression))) {
      add(node.expression, "switch");
    } else if (ts.isArrayLiteralExpression(node) && node.elements.filter(isStateLiteral).length >= 2) {
      add(node, "status list");
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** One status write outside the transition path: file, 1-based line, and the source text. */
export type StatusWrite = { file: string; line: number; text: string };

// SQL that writes a connection's status by hand: UPDATE connections SET … status, INSERT INTO
// connections, the table named as text or interpolated as drizzle's sql`… ${connections} …` does.
const CONNECTIONS_TABLE = String.raw`(?:"?connections"?(?![\w$])|\$\{\s*connections\s*\})`;
const RAW_SQL_WRITE = new RegExp(
  String.raw`\bupdate\s+${CONNECTIONS_TABLE}\s+set\b[^;]*\bstatus\b|\binsert\s+into\s+${CONNECTIONS_TABLE}`,
  "i",
);

/**
 * The status writes in `text`: a call of the store's `updateConnectionStatus` or `createConnection`
 * (what server/lifecycle/connection-transition.ts wraps), a drizzle `.set({ status … })` or
 * `.values({ status … })` written inline, and SQL text that updates or inserts `connections`.
 */
export function statusWrites(file: string, text: string): StatusWrite[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: StatusWrite[] = [];
  const add = (node: ts.Node) =>
    found.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text: node.getText(sf).split("\n")[0] ?? "" });
  const hasStatusProperty = (node: ts.Node | undefined) =>
    node !== undefined &&
    ts.isObjectLiteralExpression(node) &&
    node.properties.some((p) => p.name !== undefined && /^"?status"?$/.test(p.name.getText(sf)));
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      if (method === "updateConnectionStatus" || method === "createConnection") add(node);
      else if ((method === "set" || method === "values") && hasStatusProperty(node.arguments[0])) add(node);
    } else if ((ts.isStringLiteralLike(node) || ts.isTemplateExpression(node)) && RAW_SQL_WRITE.test(node.getText(sf))) {
      add(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** The status writes of repository-relative `files`. */
export function scanStatusWrites(files: readonly string[]): StatusWrite[] {
  return files.flatMap((file) => statusWrites(file, readFileSync(join(repoRoot, file), "utf8")));
}

/** Scans repository-relative `files`. */
export function scanFiles(files: readonly string[]): RawStatusUse[] {
  return files.flatMap((file) => rawStatusUses(file, readFileSync(join(repoRoot, file), "utf8")));
}
