/**
 * The help texts: the program's (`fossora --help`) and each command's.
 * @module
 */
import type { Command } from "./args.ts";

const COMMAND_USAGE: Record<Command, string> = {
  status:
    "fossora status [--json]\n  This node and the cluster at a glance: members, leader, services.",
  nodes: "fossora nodes [--history] [--json] | fossora nodes approve|rm|drain|undrain NAME\n" +
    "  One row a node: name, address, arch, site, role, state, replicas, last seen. --history:\n" +
    "  the admission log, who asked to join, each step and how it ended. approve NAME: lets in\n" +
    "  a node that waits for approval (it came without a token from outside the tailnet).\n" +
    "  rm NAME: forgets a node that is down for good (its etcd membership and its record).\n" +
    "  drain NAME: moves its replicas away one at a time (each new copy ready before the old\n" +
    "  one stops), keeps new ones off it, and waits until it runs none. undrain NAME: undoes it.",
  deploy: "fossora deploy FILE [--stack NAME] [--json]\n" +
    "  Creates or updates services from a fossora service file (YAML or JSON), or a stack from\n" +
    "  a docker-compose.yml. A stack is named by --stack, else the file's name:, else its\n" +
    "  folder; ${VAR} in it is filled from your environment and the .env beside it, and the\n" +
    "  env_file, secrets and configs it names are read beside it. FILE `-` reads standard input.",
  services: "fossora services [NAME] [--json]\n" +
    "  One row a service: name, image, replicas running/wanted, nodes, URL. With NAME: that\n" +
    "  service, where each replica runs and since when, and what happened to it (moves, why).",
  stacks: "fossora stacks [--json]\n" +
    "  One row a stack (a deployed compose file): its services, state and URL.",
  rm: "fossora rm NAME\n" +
    "  Removes a service and its containers everywhere; NAME a stack: all of its services.",
  logs: "fossora logs NAME [-f|--follow] [--tail N] [--replica R]\n" +
    "  A service's container logs, from whichever node runs it. -f keeps following until Ctrl-C.",
  token: "fossora token [--json]\n  Prints the cluster's join token and the line to add a machine.",
  ui: "fossora ui setup-code [--json]\n" +
    "  Prints the one-time code the web UI's first-run page asks for before the admin password\n" +
    "  is set (http://NODE:7440/ on any node).",
  leave: "fossora leave [NAME] [--json]\n" +
    "  This node (or the running node NAME) leaves the cluster: it is drained (its replicas move\n" +
    "  to other nodes, each new copy ready before the old one stops), its vote (if it has one)\n" +
    "  goes to another node, then its membership is removed and its agent stops and forgets the\n" +
    "  cluster.",
};

const GLOBAL_FLAGS = `Flags of the client commands:
  --api URL          the agent's API (env FOSSORA_API, default http://127.0.0.1:7440)
  --api-token TOKEN  the admin token (env FOSSORA_API_TOKEN, default: read DATA_DIR/admin-token)
  --data-dir DIR     where the agent keeps its state (env FOSSORA_DATA_DIR, default /var/lib/fossora)
  --json             machine-readable output
  --debug            show details (stack traces) on failures
  -h, --help         this help; \`fossora COMMAND --help\` for one command
  --version          the program's version`;

/** The whole program's help. */
export function programUsage(): string {
  return `fossora: a home-cluster agent and its client

Usage: fossora COMMAND [flags]

Commands:
  agent [flags]     run a node (see \`fossora agent --help\`)
  status            this node and the cluster at a glance
  nodes             the cluster's nodes
  deploy FILE       create or update services from a service file or docker-compose.yml
  services          the cluster's services
  stacks            the cluster's stacks (deployed compose files)
  rm NAME           remove a service or a stack
  logs NAME [-f]    a service's container logs
  token             print the cluster's join token
  ui setup-code     print the web UI's first-run code
  leave [NAME]      this node (or NAME) leaves the cluster

${GLOBAL_FLAGS}
`;
}

/** One command's help. */
export function commandUsage(command: Command): string {
  return `Usage: ${COMMAND_USAGE[command]}\n\n${GLOBAL_FLAGS}\n`;
}

/** The short usage printed after a usage error. */
export function shortUsage(command?: Command): string {
  const line = command
    ? `Usage: ${COMMAND_USAGE[command].split("\n")[0]}`
    : "Usage: fossora COMMAND [flags]";
  const more = command ? `fossora ${command} --help` : "fossora --help";
  return `${line}\nRun \`${more}\` for more.\n`;
}
