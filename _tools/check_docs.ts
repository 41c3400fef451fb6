// Checks the JSDoc of every exported symbol reachable from the given entry
// points, in the manner of std's `_tools/check_docs.ts`, from the output of
// `deno doc --json`:
//
// - functions, class methods and constructors: a description, an `@param`
//   per parameter, an `@returns` unless the return type is
//   `void`/`Promise<void>` (or an exported alias of it), an `@throws` when
//   the body has a `throw` statement, and an `@example`;
// - interface methods: a description, `@param`s and `@returns`, and an
//   `@example` unless they are callbacks (`onData`, `onError`, ...);
// - classes: a description and an `@example`;
// - every other export (interfaces, types, variables) and every property,
//   getter and interface field: a description.
//
// Usage: deno run --allow-run --allow-read _tools/check_docs.ts net/mod.ts
// Exits 1 and lists each problem as `file:line: symbol: problem`.

interface JsDocTag {
  kind: string;
  name?: string;
  doc?: string;
}

interface JsDoc {
  doc?: string;
  tags?: JsDocTag[];
}

interface Location {
  filename: string;
  line: number;
}

interface Param {
  kind: string;
  name?: string;
  left?: Param;
  arg?: Param;
}

interface FunctionDef {
  params: Param[];
  returnType?: TsType | null;
}

interface ClassMethod {
  name: string;
  kind: string;
  jsDoc?: JsDoc;
  location: Location;
  functionDef: FunctionDef;
  accessibility?: string;
}

interface Declaration {
  location: Location;
  jsDoc?: JsDoc;
  kind: string;
  def: {
    params?: Param[];
    /** Set on a function declaration with a body (not an overload). */
    hasBody?: boolean;
    returnType?: TsType | null;
    /** A type alias's definition. */
    tsType?: TsType;
    constructors?: {
      jsDoc?: JsDoc;
      params: Param[];
      location: Location;
      accessibility?: string;
    }[];
    methods?: ClassMethod[];
    properties?: {
      name: string;
      jsDoc?: JsDoc;
      location: Location;
      accessibility?: string;
    }[];
  } & {
    methods?: {
      name: string;
      jsDoc?: JsDoc;
      location: Location;
      params: Param[];
      returnType?: TsType | null;
    }[];
  };
}

interface DocSymbol {
  name: string;
  declarations: Declaration[];
}

/** One missing piece of documentation. */
export interface DocProblem {
  /** `file:line`. */
  where: string;
  /** The symbol, e.g. `TcpStream.prototype.read`. */
  symbol: string;
  /** What is missing. */
  problem: string;
}

const sources = new Map<string, string[]>();

function sourceLines(filename: string): string[] {
  let lines = sources.get(filename);
  if (lines === undefined) {
    lines = Deno.readTextFileSync(new URL(filename)).split("\n");
    sources.set(filename, lines);
  }
  return lines;
}

/**
 * Whether the member declared at `location` throws in its own body: the
 * lines from its declaration to the closing brace at its indentation.
 */
function bodyThrows(location: Location): boolean {
  if (!location.filename.startsWith("file:")) return false;
  const lines = sourceLines(location.filename);
  // `deno doc` counts lines from 0.
  const first = lines[location.line] ?? "";
  // A signature without a body (overload, interface member) throws nothing.
  if (first.trimEnd().endsWith(";")) return false;
  const indent = first.length - first.trimStart().length;
  const closing = " ".repeat(indent) + "}";
  for (let i = location.line + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === closing || line.startsWith(closing + " ")) return false;
    // Only `throw` statements of this body, not of nested doc comments.
    if (/^\s*throw\s/.test(line) || /[;{)]\s*throw\s/.test(line)) return true;
  }
  return false;
}

function paramName(param: Param): string | undefined {
  if (param.kind === "identifier") return param.name;
  if (param.kind === "assign") return param.left && paramName(param.left);
  if (param.kind === "rest") return param.arg && paramName(param.arg);
  return undefined;
}

function hasTag(doc: JsDoc | undefined, kind: string, name?: string): boolean {
  return (doc?.tags ?? []).some((tag) =>
    tag.kind === kind && (name === undefined || tag.name === name)
  );
}

interface TsType {
  repr: string;
  kind?: string;
  value?: { typeName?: string; typeParams?: TsType[] } | TsType[] | string;
}

/** The exported type aliases, by name, and the types they stand for. */
type Aliases = ReadonlyMap<string, TsType>;

/**
 * Whether `type` is `void`, `undefined`, `Promise<void>`, a union of these,
 * or an exported alias of one (`type HandlerResult = void | Promise<void>`).
 */
function voidReturn(
  type: TsType | null | undefined,
  aliases: Aliases,
): boolean {
  if (type === undefined || type === null) return true;
  if (type.repr === "void" || type.repr === "undefined") return true;
  const value = type.value;
  if (type.kind === "union" && Array.isArray(value)) {
    return value.every((member) => voidReturn(member, aliases));
  }
  if (
    Array.isArray(value) || type.kind !== "typeRef" ||
    typeof value !== "object" || value.typeName === undefined
  ) return false;
  if (value.typeName === "Promise" && value.typeParams?.length === 1) {
    return voidReturn(value.typeParams[0], aliases);
  }
  const alias = aliases.get(value.typeName);
  // Without the alias itself: an alias that names itself ends here.
  if (alias === undefined) return false;
  const rest = new Map(aliases);
  rest.delete(value.typeName);
  return voidReturn(alias, rest);
}

function where(location: Location): string {
  const path = location.filename.replace(/^file:\/\//, "").replace(
    Deno.cwd() + "/",
    "",
  );
  return `${path}:${location.line + 1}`;
}

function checkCallable(
  problems: DocProblem[],
  symbol: string,
  jsDoc: JsDoc | undefined,
  params: Param[],
  returnsValue: boolean,
  location: Location,
  needsExample = true,
  hasBody = true,
): void {
  const add = (problem: string) =>
    problems.push({ where: where(location), symbol, problem });
  if (!jsDoc?.doc?.trim()) add("no description");
  for (const param of params) {
    const name = paramName(param);
    if (name !== undefined && !hasTag(jsDoc, "param", name)) {
      add(`no @param ${name}`);
    }
  }
  if (returnsValue && !hasTag(jsDoc, "return")) {
    add("no @returns");
  }
  if (hasBody && bodyThrows(location) && !hasTag(jsDoc, "throws")) {
    add("no @throws");
  }
  if (needsExample && !hasTag(jsDoc, "example")) add("no @example");
}

/**
 * Checks the symbols of `deno doc --json` output.
 *
 * @param symbols The `symbols` of every entry point.
 * @returns The problems found.
 */
export function checkSymbols(symbols: DocSymbol[]): DocProblem[] {
  const problems: DocProblem[] = [];
  const seen = new Set<string>();
  const aliases = new Map<string, TsType>();
  for (const symbol of symbols) {
    for (const { kind, def } of symbol.declarations) {
      if (kind === "typeAlias" && def.tsType) {
        aliases.set(symbol.name, def.tsType);
      }
    }
  }
  for (const symbol of symbols) {
    for (const declaration of symbol.declarations) {
      const { kind, jsDoc, location, def } = declaration;
      const key = `${location.filename}:${location.line}:${symbol.name}`;
      if (seen.has(key) || kind === "import" || kind === "moduleDoc") {
        continue;
      }
      seen.add(key);
      const add = (name: string, problem: string, at = location) =>
        problems.push({ where: where(at), symbol: name, problem });
      if (kind === "function") {
        // With overloads the signature with a body is the implementation's,
        // which is not part of the API: the overloads carry the docs.
        if (
          def.hasBody &&
          symbol.declarations.some((d) =>
            d.kind === "function" && !d.def.hasBody
          )
        ) continue;
        checkCallable(
          problems,
          symbol.name,
          jsDoc,
          def.params ?? [],
          !voidReturn(def.returnType, aliases),
          location,
        );
        continue;
      }
      if (!jsDoc?.doc?.trim()) add(symbol.name, "no description");
      if (kind === "class") {
        if (!hasTag(jsDoc, "example")) add(symbol.name, "no @example");
        for (const ctor of def.constructors ?? []) {
          if (ctor.accessibility === "private") continue;
          checkCallable(
            problems,
            `new ${symbol.name}`,
            ctor.jsDoc,
            ctor.params,
            false,
            ctor.location,
          );
        }
        for (const method of (def.methods ?? []) as ClassMethod[]) {
          if (method.accessibility === "private") continue;
          const name = `${symbol.name}.prototype.${method.name}`;
          if (method.kind === "getter" || method.kind === "setter") {
            if (!method.jsDoc?.doc?.trim()) {
              add(name, "no description", method.location);
            }
            continue;
          }
          checkCallable(
            problems,
            name,
            method.jsDoc,
            method.functionDef.params,
            !voidReturn(method.functionDef.returnType, aliases),
            method.location,
          );
        }
        for (const property of def.properties ?? []) {
          if (property.accessibility === "private") continue;
          if (!property.jsDoc?.doc?.trim()) {
            add(
              `${symbol.name}.prototype.${property.name}`,
              "no description",
              property.location,
            );
          }
        }
      } else if (kind === "interface") {
        for (const method of def.methods ?? []) {
          const m = method as {
            name: string;
            jsDoc?: JsDoc;
            location: Location;
            params: Param[];
            returnType?: TsType | null;
          };
          // A method the caller calls needs an example; a callback the
          // caller writes (`onData`, `onError`) is shown by the interface's.
          checkCallable(
            problems,
            `${symbol.name}.${m.name}`,
            m.jsDoc,
            m.params,
            !voidReturn(m.returnType, aliases),
            m.location,
            !/^on[A-Z]/.test(m.name),
            false,
          );
        }
        for (const property of def.properties ?? []) {
          if (!property.jsDoc?.doc?.trim()) {
            add(
              `${symbol.name}.${property.name}`,
              "no description",
              property.location,
            );
          }
        }
      }
    }
  }
  return problems;
}

async function docJson(entry: string): Promise<DocSymbol[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`deno doc --json ${entry} failed`);
  const json = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    nodes: Record<string, { symbols: DocSymbol[] }>;
  };
  return Object.values(json.nodes).flatMap((node) => node.symbols);
}

if (import.meta.main) {
  const entries = Deno.args.length > 0 ? Deno.args : ["mod.ts"];
  const symbols = (await Promise.all(entries.map(docJson))).flat();
  const problems = checkSymbols(symbols);
  for (const { where, symbol, problem } of problems) {
    // deno-lint-ignore no-console
    console.log(`${where}: ${symbol}: ${problem}`);
  }
  // deno-lint-ignore no-console
  console.log(
    problems.length === 0
      ? `check_docs: ${entries.join(", ")}: every export is documented`
      : `check_docs: ${problems.length} problems in ${entries.join(", ")}`,
  );
  if (problems.length > 0) Deno.exit(1);
}
