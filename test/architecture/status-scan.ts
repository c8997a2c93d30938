// Static scan for connection statuses handled outside the transition table: a comparison of a
// status with a literal state name, a switch over one, or a hand-kept list of states. Code asks
// domain/connection-status.ts instead (isUsable, endsWatch, allowedFrom, …); status writes go
// through the store's updateConnectionStatus, which checks the table. TypeScript's parser reads it.
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

/** Scans repository-relative `files`. */
export function scanFiles(files: readonly string[]): RawStatusUse[] {
  return files.flatMap((file) => rawStatusUses(file, readFileSync(join(repoRoot, file), "utf8")));
}
