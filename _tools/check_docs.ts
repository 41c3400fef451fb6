// deno-lint-ignore-file no-console
/**
 * Checks the docs of every public class's constructors and methods in the
 * given entry points, as std's `_tools/check_docs.ts` does: an `@example`
 * each, a `@param` per parameter, and `@returns` unless the method returns
 * `void` (or `Promise<void>`). Getters need an `@example`.
 *
 *   deno run --allow-run _tools/check_docs.ts reactor/mod.ts
 *
 * Exits 1 with one line per problem.
 *
 * @module
 */

interface Tag {
  kind: string;
  name?: string;
}
interface JsDoc {
  doc?: string;
  tags?: Tag[];
}
interface FunctionDef {
  params: { kind: string; name?: string; left?: { name?: string } }[];
  returnType?: { repr: string };
}
interface Member {
  name: string;
  kind?: string;
  jsDoc?: JsDoc;
  accessibility?: string;
  functionDef?: FunctionDef;
  params?: FunctionDef["params"];
}
interface Declaration {
  kind: string;
  jsDoc?: JsDoc;
  location: { filename: string; line: number };
  def?: { constructors?: Member[]; methods?: Member[] };
}
interface DocSymbol {
  name: string;
  declarations: Declaration[];
}

const entries = Deno.args;
if (entries.length === 0) {
  console.error("usage: check_docs.ts ENTRY.ts...");
  Deno.exit(2);
}
const out = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--json", ...entries],
  stdout: "piped",
}).output();
if (!out.success) Deno.exit(1);
const json = JSON.parse(new TextDecoder().decode(out.stdout)) as {
  nodes: Record<string, { symbols: DocSymbol[] }>;
};

const problems: string[] = [];
const seen = new Set<string>();

function paramName(p: FunctionDef["params"][number]): string | undefined {
  return p.name ?? p.left?.name;
}

function check(where: string, member: Member, isConstructor: boolean): void {
  if (member.accessibility === "private" || member.name.startsWith("#")) {
    return;
  }
  const tags = member.jsDoc?.tags ?? [];
  const has = (kind: string) => tags.some((t) => t.kind === kind);
  const what = `${where}.${isConstructor ? "constructor" : member.name}`;
  if (!member.jsDoc?.doc?.trim()) problems.push(`${what}: no description`);
  if (!has("example")) problems.push(`${what}: no @example`);
  if (member.kind === "getter" || member.kind === "setter") return;
  const params = member.functionDef?.params ?? member.params ?? [];
  for (const p of params) {
    const name = paramName(p);
    if (name && !tags.some((t) => t.kind === "param" && t.name === name)) {
      problems.push(`${what}: no @param ${name}`);
    }
  }
  const ret = member.functionDef?.returnType?.repr;
  if (
    !isConstructor && ret !== undefined && ret !== "void" &&
    ret !== "Promise<void>" && !has("return")
  ) {
    problems.push(`${what}: no @returns (returns ${ret})`);
  }
}

for (const { symbols } of Object.values(json.nodes)) {
  for (const symbol of symbols) {
    for (const decl of symbol.declarations) {
      if (decl.kind !== "class") continue;
      const key = `${decl.location.filename}:${symbol.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const c of decl.def?.constructors ?? []) check(symbol.name, c, true);
      for (const m of decl.def?.methods ?? []) check(symbol.name, m, false);
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`${problems.length} documentation problem(s)`);
  Deno.exit(1);
}
console.log(`docs complete: ${seen.size} classes in ${entries.join(", ")}`);
