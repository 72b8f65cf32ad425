/**
 * Command-line parsing for the client commands: global flags may come before or after the
 * command, `--flag=value` and `--flag value` both work, `-` is an argument (stdin) and `--` ends
 * the flags.
 * @module
 */
import { UsageError } from "./errors.ts";

/** The client commands `runCli` handles. */
export const COMMANDS = [
  "status",
  "nodes",
  "deploy",
  "services",
  "stacks",
  "rm",
  "logs",
  "token",
  "leave",
  "ui",
] as const;
/** One of `COMMANDS`. */
export type Command = typeof COMMANDS[number];

/** Parsed arguments. */
export interface Args {
  /** The command, or undefined when only `--help`/`--version` (or nothing) was given. */
  command?: Command;
  /** `help` was asked for (`--help`, `-h` or the `help` command). */
  help: boolean;
  version: boolean;
  json: boolean;
  debug: boolean;
  /** Arguments after the command. */
  positionals: string[];
  api?: string;
  apiToken?: string;
  dataDir?: string;
  /** `logs -f`. */
  follow: boolean;
  /** `logs --tail N`. */
  tail?: number;
  /** `logs --replica R`. */
  replica?: number;
  /** `nodes --history`: the admission log. */
  history: boolean;
  /** `deploy --stack NAME`: the stack a compose file deploys. */
  stack?: string;
}

/** Each command's arguments; `sub` lists its subcommands and theirs (`nodes approve NAME`). */
const ARITY: Record<
  Command,
  { names: string[]; optional?: string[]; sub?: Record<string, string[]> }
> = {
  status: { names: [] },
  nodes: {
    names: [],
    sub: { approve: ["NAME"], rm: ["NAME"], drain: ["NAME"], undrain: ["NAME"] },
  },
  services: { names: [], optional: ["NAME"] },
  stacks: { names: [] },
  token: { names: [] },
  leave: { names: [], optional: ["NAME"] },
  ui: { names: [], sub: { "setup-code": [] } },
  deploy: { names: ["FILE"] },
  rm: { names: ["NAME"] },
  logs: { names: ["NAME"] },
};

type Flag =
  | { kind: "bool"; set: (a: Args) => void; only?: Command }
  | { kind: "value"; set: (a: Args, v: string) => void; only?: Command };

const FLAGS: Record<string, Flag> = {
  "--help": { kind: "bool", set: (a) => (a.help = true) },
  "-h": { kind: "bool", set: (a) => (a.help = true) },
  "--version": { kind: "bool", set: (a) => (a.version = true) },
  "--json": { kind: "bool", set: (a) => (a.json = true) },
  "--debug": { kind: "bool", set: (a) => (a.debug = true) },
  "--api": { kind: "value", set: (a, v) => (a.api = v) },
  "--api-token": { kind: "value", set: (a, v) => (a.apiToken = v) },
  "--data-dir": { kind: "value", set: (a, v) => (a.dataDir = v) },
  "--history": { kind: "bool", set: (a) => (a.history = true), only: "nodes" },
  "--stack": { kind: "value", set: (a, v) => (a.stack = v), only: "deploy" },
  "-f": { kind: "bool", set: (a) => (a.follow = true), only: "logs" },
  "--follow": { kind: "bool", set: (a) => (a.follow = true), only: "logs" },
  "--tail": { kind: "value", set: (a, v) => (a.tail = count("--tail", v)), only: "logs" },
  "--replica": { kind: "value", set: (a, v) => (a.replica = count("--replica", v)), only: "logs" },
};

function count(flag: string, v: string): number {
  if (!/^\d{1,9}$/.test(v)) {
    throw new UsageError(
      `${flag} takes a whole number of 0 or more, not ${JSON.stringify(v)}`,
      "logs",
    );
  }
  return Number(v);
}

function isCommand(s: string): s is Command {
  return (COMMANDS as readonly string[]).includes(s);
}

/** Parses `argv` (without the program name); throws `UsageError` on bad arguments. */
export function parseArgs(argv: string[]): Args {
  const args: Args = {
    help: false,
    version: false,
    json: false,
    debug: false,
    follow: false,
    history: false,
    positionals: [],
  };
  const words: string[] = [];
  const used: { flag: string; only?: Command }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith("-") || word === "-") {
      words.push(word);
      continue;
    }
    const eq = word.indexOf("=");
    const name = eq > 0 && word.startsWith("--") ? word.slice(0, eq) : word;
    const flag = FLAGS[name];
    if (!flag) throw new UsageError(`unknown flag ${name}`, commandIn(argv));
    if (flag.kind === "bool") {
      if (eq > 0 && name !== word) throw new UsageError(`${name} takes no value`, commandIn(argv));
      flag.set(args);
    } else {
      const value = name !== word ? word.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`, commandIn(argv));
      flag.set(args, value);
    }
    used.push({ flag: name, only: flag.only });
  }
  placeCommand(args, words);
  for (const u of used) {
    if (u.only && args.command !== u.only) {
      throw new UsageError(`${u.flag} is a flag of \`fossora ${u.only}\``, args.command);
    }
  }
  if (args.api !== undefined) checkApiUrl(args.api, args.command);
  return args;
}

/** Picks the command out of the words and checks its number of arguments. */
function placeCommand(args: Args, words: string[]): void {
  let [first, ...rest] = words;
  if (first === "help") {
    args.help = true;
    [first, ...rest] = rest;
  }
  if (first === undefined) return;
  if (first === "agent") {
    throw new UsageError("`fossora agent` is started by the program's entry point, not here");
  }
  if (!isCommand(first)) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
  args.command = first;
  args.positionals = rest;
  if (args.help) return;
  const sub = ARITY[first].sub?.[rest[0]];
  if (sub) rest = rest.slice(1);
  const want = sub ?? ARITY[first].names;
  const most = want.length + (sub ? 0 : ARITY[first].optional?.length ?? 0);
  if (rest.length < want.length) throw new UsageError(`missing ${want[rest.length]}`, first);
  if (rest.length > most) {
    throw new UsageError(`unexpected argument ${JSON.stringify(rest[most])}`, first);
  }
}

/** The first word that names a command, for the usage shown with an early error. */
function commandIn(argv: string[]): Command | undefined {
  return argv.find(isCommand);
}

function checkApiUrl(api: string, command?: Command): void {
  let url: URL | undefined;
  try {
    url = new URL(api);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(
      `--api must be an http:// or https:// URL such as http://10.0.0.5:7440, not ${
        JSON.stringify(api)
      }`,
      command,
    );
  }
}
