/**
 * Slots of the one-machine cluster harness (`hosts.ts`): the names, subnet and directory a
 * harness uses, how many harnesses run at once on this machine, and how to find and remove what
 * a harness whose process died left behind.
 *
 * A slot is an exclusive lock on `HOSTS_ROOT/sK.lock`. The kernel drops it when its process
 * ends, however it ends (test workers of one `deno test --parallel` process too: each opens the
 * file itself), so a free slot with traces on the machine belongs to a dead harness, and those
 * traces (namespaces, bridge, firewall rule, processes, mounts, cgroups, directory) are swept
 * before anyone uses the slot again. Every name carries the slot number and a tag new for each
 * harness, so no two harnesses share a name, even one after the other in the same slot: slot K
 * with tag T has bridge `fhKgTbr`, namespaces `fhKgTn1…`, veths `fhKgTv1…`, cgroups
 * `fossora-hosts-sK-T-…`, directory `HOSTS_ROOT/sK-T`, and subnet 10.231.K.0/24.
 * @module
 */
import { must, run } from "./run.ts";

/** Where slots keep their lock files and their hosts' directories. */
export const HOSTS_ROOT = "/tmp/fossora-hosts";
/** Environment variable: harnesses at once on this machine (default 2). */
export const LIMIT_ENV = "FOSSORA_TEST_HOSTS_PARALLEL";
const MAX_SLOTS = 64;
/** Programs a harness starts; only these are recognised by a path in their arguments. */
const OUR_PROGRAMS = new Set([
  "dockerd",
  "containerd",
  "containerd-shim",
  "containerd-shim-runc-v2",
  "docker-proxy",
  "etcd",
  "deno",
  "nsenter",
  "setsid",
]);

/** Everything named after one harness: its slot and its tag. */
export interface SlotNames {
  slot: number;
  /** Four letters or digits, new for each harness. */
  tag: string;
  /** The harness's directory: one subdirectory a host. */
  dir: string;
  bridge: string;
  /** Namespaces are `nsPrefix + i`. */
  nsPrefix: string;
  /** Root-side veth ends are `vethPrefix + i`. */
  vethPrefix: string;
  /** The first three octets: host i is `net.i`, the bridge `net.254`. */
  net: string;
  /** Comment on the harness's iptables FORWARD rule. */
  rule: string;
  /** Prefix of the cgroups its containers run under (`--cgroup-parent`). */
  cgroup: string;
}

/** The names of the harness with tag `tag` in slot `slot`. */
export function slotNames(slot: number, tag: string): SlotNames {
  const id = `fh${slot}g${tag}`;
  return {
    slot,
    tag,
    dir: `${HOSTS_ROOT}/s${slot}-${tag}`,
    bridge: `${id}br`,
    nsPrefix: `${id}n`,
    vethPrefix: `${id}v`,
    net: `10.231.${slot}`,
    rule: `fossora-hosts-s${slot}-${tag}`,
    cgroup: `fossora-hosts-s${slot}-${tag}-`,
  };
}

/** A new harness tag: four letters or digits. */
export function newTag(): string {
  const abc = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...crypto.getRandomValues(new Uint8Array(4))].map((b) => abc[b % abc.length]).join("");
}

/** What inventory and sweep cover: one harness (with its tag), or all of a slot's. */
export interface Scope {
  slot: number;
  tag?: string;
}

/** Prefixes of a scope's names: namespaces and links; directories; rule comments and cgroups. */
function prefixes(scope: Scope): { link: string; dir: string; label: string } {
  const t = scope.tag ?? "";
  return {
    link: `fh${scope.slot}g${t}`,
    dir: `${HOSTS_ROOT}/s${scope.slot}-${t}`,
    label: `fossora-hosts-s${scope.slot}-${t}`,
  };
}

/** How many harnesses may run at once: `FOSSORA_TEST_HOSTS_PARALLEL`, default 2. */
export function slotLimit(value = Deno.env.get(LIMIT_ENV)): number {
  if (value === undefined || value === "") return 2;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_SLOTS) {
    throw new Error(
      `${LIMIT_ENV}=${value}: give a whole number from 1 to ${MAX_SLOTS} (harnesses at once ` +
        "on this machine; default 2)",
    );
  }
  return n;
}

/** A slot this process holds until {@link Slot.release}. */
export class Slot {
  constructor(readonly names: SlotNames, readonly lock: Deno.FsFile) {}

  /** Lets the next harness have the slot; call only once nothing of it is left. */
  release(): void {
    try {
      this.lock.close();
    } catch { /* already closed */ }
  }
}

/** Options of {@link acquireSlot}. */
export interface AcquireOptions {
  /** Slots on this machine (default {@link slotLimit}). */
  limit?: number;
  /** How long to wait for a free slot (default 10 minutes). */
  timeoutMs?: number;
  /** Told when the caller has to wait. */
  onWait?: (message: string) => void;
  /** Told about leftovers of dead harnesses that could not be removed. */
  onProblem?: (message: string) => void;
  /**
   * Where the lock files are (default {@link HOSTS_ROOT}). Another directory has slots of its
   * own, which harnesses do not use, for testing the locks alone: nothing is swept then.
   */
  lockDir?: string;
}

/**
 * Takes a free slot, waiting while all are taken. Sweeps every free slot that has traces on the
 * machine (what dead harnesses left behind) first, and the slot it takes before giving it.
 */
export async function acquireSlot(options: AcquireOptions = {}): Promise<Slot> {
  const limit = options.limit ?? slotLimit();
  const dir = options.lockDir ?? HOSTS_ROOT;
  const sweeps = dir === HOSTS_ROOT;
  await Deno.mkdir(dir, { recursive: true });
  // Deno has no try-lock: takers queue on the gate, and the one holding it reads /proc/locks to
  // see which slots are free; a free slot's lock is then taken at once, since every taker holds
  // the gate first (reapers take a slot's lock without it, which at worst makes a taker wait).
  const gate = await Deno.open(`${dir}/gate.lock`, { create: true, write: true });
  try {
    if ((await heldLocks()).has(lockKey(await gate.stat()))) {
      options.onWait?.("another harness is taking a slot (or waiting for one); waiting behind it");
    }
    await gate.lock(true);
    const unusable = new Set<number>();
    /** Removes a dead harness's traces from a slot no one holds; false when some stay. */
    const clean = async (slot: number): Promise<boolean> => {
      if (!sweeps || describe(await inventory({ slot })).length === 0) return true;
      const problems = await sweepSlot(slot);
      if (problems.length === 0) return true;
      unusable.add(slot);
      options.onProblem?.(
        `hosts slot ${slot}: a dead harness left ${problems.join("; ")}; not using it`,
      );
      return false;
    };
    if (sweeps) {
      const held = await heldLocks();
      for (const slot of await tracedSlots()) {
        if (!held.has(await fileKey(lockPath(slot, dir)))) await clean(slot);
      }
    }
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    let told = false;
    for (;;) {
      const held = await heldLocks();
      for (let slot = 0; slot < limit; slot++) {
        if (unusable.has(slot)) continue;
        const file = await Deno.open(lockPath(slot, dir), { create: true, write: true });
        if (held.has(lockKey(await file.stat()))) {
          file.close();
          continue;
        }
        await file.lock(true);
        // Leftovers may have come since the sweep above, while this taker waited.
        if (!(await clean(slot))) {
          file.close();
          continue;
        }
        await Deno.writeTextFile(
          `${dir}/s${slot}.owner`,
          JSON.stringify({ pid: Deno.pid, since: new Date().toISOString(), argv: Deno.args }),
        );
        return new Slot(slotNames(slot, newTag()), file);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `no free hosts slot after ${options.timeoutMs ?? 600_000} ms: ${limit} harnesses run ` +
            `already (see ${dir}/s*.owner); raise ${LIMIT_ENV} or wait for them`,
        );
      }
      if (!told) {
        options.onWait?.(
          `all ${limit} hosts slots are taken (${LIMIT_ENV}); waiting for one to free`,
        );
        told = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    gate.close();
  }
}

/**
 * Starts the slot's reaper: `flock` in a session of its own waits for the slot's lock and, once
 * it has it, sweeps the slot (this module run with `--sweep`); that is as soon as this process
 * lets go of the slot, however it ends: the test runner exits at once on Ctrl-C without running
 * our signal listeners, and SIGKILL runs no code at all. After a normal teardown the sweep finds
 * nothing. It holds the lock while it sweeps, so no harness uses the slot meanwhile.
 */
export async function startReaper(slot: number): Promise<void> {
  const log = `${HOSTS_ROOT}/reaper.log`;
  await must([
    "sh",
    "-c",
    'setsid flock "$1" "$2" run -A "$3" --sweep "$4" </dev/null >>"$5" 2>&1 &',
    "sh",
    lockPath(slot),
    Deno.execPath(),
    new URL(import.meta.url).pathname,
    String(slot),
    log,
  ]);
}

/** The reaper's sweep; says in the log what it found, which is nothing after a normal end. */
async function reap(slot: number): Promise<void> {
  const found = describe(await inventory({ slot }));
  if (!found.length) return;
  const at = new Date().toISOString();
  console.error(`${at} slot ${slot}: removing what its dead harness left: ${found.join("; ")}`);
  const left = await sweepSlot(slot);
  if (left.length) console.error(`${at} slot ${slot}: could not remove ${left.join("; ")}`);
}

function lockPath(slot: number, dir = HOSTS_ROOT): string {
  return `${dir}/s${slot}.lock`;
}

/** `major:minor:inode` of a file, as /proc/locks names it. */
function lockKey(st: Deno.FileInfo): string {
  const dev = st.dev;
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major}:${minor}:${st.ino}`;
}

/** Files someone holds a lock on. */
async function heldLocks(): Promise<Set<string>> {
  return parseProcLocks(await Deno.readTextFile("/proc/locks"));
}

/**
 * The `major:minor:inode` of every held lock in /proc/locks text; waiters (`->` lines) hold
 * nothing yet.
 */
export function parseProcLocks(text: string): Set<string> {
  const held = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+(->\s+)?\S+\s+\S+\s+\S+\s+\d+\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m || m[1]) continue;
    held.add(`${parseInt(m[2], 16)}:${parseInt(m[3], 16)}:${m[4]}`);
  }
  return held;
}

/** The lock key of the file at `path`; "" when there is none. */
async function fileKey(path: string): Promise<string> {
  return await Deno.stat(path).then(lockKey, () => "");
}

/** Slot numbers with anything on this machine. */
async function tracedSlots(): Promise<Set<number>> {
  const slots = new Set<number>();
  const add = (re: RegExp, s: string) => {
    const m = re.exec(s);
    if (m) slots.add(Number(m[1]));
  };
  for (const name of await netnsNames()) add(/^fh(\d+)g/, name);
  for (const name of await linkNames()) add(/^fh(\d+)g/, name);
  for (const rule of await forwardRules()) add(/fossora-hosts-s(\d+)-/, rule.join(" "));
  for (const name of await dirNames(HOSTS_ROOT, true)) add(/^s(\d+)-/, name);
  for (const root of await cgroupRoots()) {
    for (const name of await dirNames(root, true)) add(/^fossora-hosts-s(\d+)-/, name);
  }
  for (const p of await processes()) {
    if (OUR_PROGRAMS.has(p.program)) add(new RegExp(`${HOSTS_ROOT}/s(\\d+)-`), p.cmdline);
  }
  return slots;
}

/** What of a harness or slot is on this machine now. */
export interface Inventory {
  netns: string[];
  links: string[];
  /** FORWARD rules as `iptables -S` words, without the leading `-A`. */
  rules: string[][];
  processes: { pid: number; cmdline: string }[];
  /** Mount points under its directories, deepest first. */
  mounts: string[];
  /** Its cgroup directories, deepest first. */
  cgroups: string[];
  dirs: string[];
}

/** Lists everything of a harness (`scope.tag` given) or of all a slot's on this machine. */
export async function inventory(scope: Scope): Promise<Inventory> {
  const p = prefixes(scope);
  const netns = (await netnsNames()).filter((n) => n.startsWith(p.link));
  const links = (await linkNames()).filter((n) => n.startsWith(p.link));
  const rules = (await forwardRules()).filter((r) =>
    r.some((w) => w.startsWith(p.label) || w.startsWith(p.link))
  );
  const cgroups: string[] = [];
  for (const root of await cgroupRoots()) {
    for (const name of await dirNames(root, true)) {
      if (name.startsWith(p.label)) cgroups.push(...await treeBottomUp(`${root}/${name}`));
    }
  }
  const dirs = (await dirNames(HOSTS_ROOT, true)).map((n) => `${HOSTS_ROOT}/${n}`).filter((d) =>
    d.startsWith(p.dir)
  );
  const mounts = (await mountPoints()).filter((m) => m.startsWith(p.dir))
    .sort((a, b) => b.length - a.length);
  return {
    netns,
    links,
    rules,
    processes: await scopeProcesses(p.dir, netns, cgroups),
    mounts,
    cgroups,
    dirs,
  };
}

/** One line a kind of leftover; empty when nothing is left. */
export function describe(inv: Inventory): string[] {
  const out: string[] = [];
  if (inv.processes.length) {
    out.push(
      `processes ${inv.processes.map((p) => `${p.pid} (${p.cmdline.slice(0, 60)})`).join(", ")}`,
    );
  }
  if (inv.mounts.length) out.push(`mounts ${inv.mounts.join(", ")}`);
  if (inv.netns.length) out.push(`namespaces ${inv.netns.join(", ")}`);
  if (inv.links.length) out.push(`links ${inv.links.join(", ")}`);
  if (inv.rules.length) out.push(`iptables rules ${inv.rules.map((r) => r.join(" ")).join(", ")}`);
  if (inv.cgroups.length) out.push(`cgroups ${inv.cgroups.join(", ")}`);
  if (inv.dirs.length) out.push(`directories ${inv.dirs.join(", ")}`);
  return out;
}

/**
 * Removes everything of a slot, in an order that cannot strand anything: processes first (so
 * no one holds a mount or re-creates a file), then mounts, namespaces, links, the firewall rule,
 * cgroups and the directories (only once nothing is mounted under them). Each step goes on when
 * another failed; returns what is still there, described. Only for a slot whose lock the caller
 * holds, or whose holder is dead.
 */
export async function sweepSlot(slot: number): Promise<string[]> {
  let inv = await inventory({ slot });
  await killAll(inv.processes.map((p) => p.pid));
  inv = await inventory({ slot });
  if (inv.processes.length) await killAll(inv.processes.map((p) => p.pid));
  if (inv.mounts.length) await run(["umount", "--lazy", ...inv.mounts]);
  for (const ns of inv.netns) await run(["ip", "netns", "delete", ns]);
  for (const link of inv.links) await run(["ip", "link", "delete", link]);
  for (const rule of inv.rules) {
    // The same rule may be in twice; delete until it is gone.
    for (let i = 0; i < 10; i++) {
      if ((await run(["iptables", "-w", "-D", ...rule.slice(1)])).code !== 0) break;
    }
  }
  for (const dir of inv.cgroups) await Deno.remove(dir).catch(() => {});
  const mounts = await mountPoints();
  for (const dir of inv.dirs) {
    if (mounts.every((m) => m !== dir && !m.startsWith(`${dir}/`))) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
  return describe(await inventory({ slot }));
}

/** SIGKILLs every pid and waits until each is gone or a zombie (its parent's to reap). */
async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  const deadline = Date.now() + 10_000;
  for (const pid of pids) {
    while (Date.now() < deadline && await alive(pid)) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** True while `pid` runs (a zombie has stopped running: only its exit status is left). */
export async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (stat === "") return false;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

interface Proc {
  pid: number;
  ppid: number;
  program: string;
  cmdline: string;
  netns: string;
}

async function processes(): Promise<Proc[]> {
  const procs: Proc[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    const [raw, stat, netns] = await Promise.all([
      Deno.readFile(`/proc/${pid}/cmdline`).catch(() => new Uint8Array()),
      Deno.readTextFile(`/proc/${pid}/stat`).catch(() => ""),
      Deno.readLink(`/proc/${pid}/ns/net`).catch(() => ""),
    ]);
    if (!stat) continue;
    const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (after[0] === "Z") continue;
    const argv = new TextDecoder().decode(raw).split("\0").filter(Boolean);
    procs.push({
      pid,
      ppid: Number(after[1]),
      program: (argv[0] ?? "").split("/").pop() ?? "",
      cmdline: argv.join(" "),
      netns,
    });
  }
  return procs;
}

/**
 * A scope's processes: ours by a path under `dirPrefix` in their arguments, anything in its
 * namespaces or cgroups, and every descendant of those; never this process or its ancestors.
 */
async function scopeProcesses(
  dirPrefix: string,
  netns: string[],
  cgroups: string[],
): Promise<{ pid: number; cmdline: string }[]> {
  const procs = await processes();
  const nsIds = new Set<string>();
  for (const ns of netns) {
    const st = await Deno.stat(`/run/netns/${ns}`).catch(() => undefined);
    if (st) nsIds.add(`net:[${st.ino}]`);
  }
  const inCgroups = new Set<number>();
  for (const dir of cgroups) {
    const text = await Deno.readTextFile(`${dir}/cgroup.procs`).catch(() => "");
    for (const pid of text.split("\n").filter(Boolean)) inCgroups.add(Number(pid));
  }
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const spared = new Set<number>();
  for (let pid: number | undefined = Deno.pid; pid && !spared.has(pid);) {
    spared.add(pid);
    pid = byPid.get(pid)?.ppid;
  }
  const ours = new Set<number>();
  for (const p of procs) {
    if (
      (OUR_PROGRAMS.has(p.program) && p.cmdline.includes(dirPrefix)) || nsIds.has(p.netns) ||
      inCgroups.has(p.pid)
    ) ours.add(p.pid);
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!ours.has(p.pid) && ours.has(p.ppid)) {
        ours.add(p.pid);
        grew = true;
      }
    }
  }
  return [...ours].filter((pid) => !spared.has(pid)).map((pid) => ({
    pid,
    cmdline: byPid.get(pid)?.cmdline ?? "",
  }));
}

async function netnsNames(): Promise<string[]> {
  return await dirNames("/run/netns");
}

async function linkNames(): Promise<string[]> {
  const r = await run(["ip", "-o", "link", "show"]);
  return r.stdout.split("\n").map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((n) =>
    n !== undefined
  );
}

/** FORWARD rules as words, e.g. `["-A", "FORWARD", "-i", "fhbr0", …]`. */
async function forwardRules(): Promise<string[][]> {
  const r = await run(["iptables", "-w", "-S", "FORWARD"]);
  return r.stdout.split("\n").filter((l) => l.startsWith("-A ")).map((l) =>
    l.split(/\s+/).map((w) => w.replace(/^"(.*)"$/, "$1"))
  );
}

/** Every mount point this process sees. */
export async function mountPoints(): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").filter(Boolean).map((l) =>
    l.split(" ")[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))
  );
}

/** Roots of the cgroup hierarchies: `/sys/fs/cgroup` (v2) or each controller's directory (v1). */
async function cgroupRoots(): Promise<string[]> {
  const roots = ["/sys/fs/cgroup"];
  for (const name of await dirNames("/sys/fs/cgroup", true)) {
    if (!/^(cgroup\.|fossora-hosts-)/.test(name)) roots.push(`/sys/fs/cgroup/${name}`);
  }
  return roots;
}

/** `dir` and every directory under it, deepest first (the order rmdir needs). */
async function treeBottomUp(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await dirNames(dir, true)) {
    out.push(...await treeBottomUp(`${dir}/${name}`));
  }
  out.push(dir);
  return out;
}

/** Names in `dir` (none when it is missing); only subdirectories with `dirsOnly`. */
async function dirNames(dir: string, dirsOnly = false): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory || (!dirsOnly && e.isFile)) names.push(e.name);
    }
  } catch { /* missing */ }
  return names;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--sweep");
  const slot = Number(Deno.args[i + 1]);
  if (i < 0 || !Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) {
    console.error("usage: deno run -A test/helpers/hosts_slot.ts --sweep SLOT");
    Deno.exit(2);
  }
  await reap(slot);
}
