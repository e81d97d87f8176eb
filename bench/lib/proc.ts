// Reading a server process's memory and CPU from /proc (Linux).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (USER_HZ). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** VmRSS of a process in KiB (NaN if it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** CPU time (utime + stime) of a process in seconds (NaN if it is gone). */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (!f) return NaN;
  // After the name: state(3) ppid(4) ... utime(14) stime(15); index = field - 3.
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/**
 * CPU time of a process tree in seconds: the root and its live descendants, with what their
 * exited children used (cutime + cstime, counted in the parent once reaped), so that a
 * PostgreSQL backend that ends between two readings still counts.
 */
export function treeCpuSeconds(root: number): number {
  let sum = 0;
  for (const pid of [root, ...descendants(root)]) {
    const f = statFields(pid);
    // utime(14) stime(15) cutime(16) cstime(17); index = field - 3.
    if (f) sum += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return sum / CLK_TCK;
}

/** Write system calls of a process tree's live processes (see writeCalls). */
export function treeWriteCalls(root: number): number {
  return [root, ...descendants(root)].reduce((s, pid) => s + (writeCalls(pid) || 0), 0);
}

export function parentOf(pid: number): number {
  const f = statFields(pid);
  return f ? Number(f[1]) : 0;
}

/** The soft limit on open files of a process (NaN if unknown). */
export function openFilesLimit(pid: number): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Write system calls a process has made (syscw of /proc/<pid>/io: sockets, files, pipes). */
export function writeCalls(pid: number): number {
  try {
    const m = /^syscw:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Real uid of a process (NaN if it is gone). */
export function uidOf(pid: number): number {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Every live descendant of `root` (children, grandchildren, ...). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** Pids of processes listening on a TCP port (from /proc/net/tcp{,6} and the fds). */
export function listenersOn(ports: number[]): { port: number; pid: number; comm: string }[] {
  const inodes = new Map<string, number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A") continue; // 0A = LISTEN
      const port = parseInt(f[1]!.split(":")[1]!, 16);
      if (ports.includes(port)) inodes.set(f[9]!, port);
    }
  }
  if (inodes.size === 0) return [];
  const out: { port: number; pid: number; comm: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link = "";
      try {
        link = readlinkSync(`/proc/${name}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) {
        out.push({ port: inodes.get(m[1]!)!, pid: Number(name), comm: commOf(Number(name)) });
      }
    }
  }
  return out;
}

/**
 * How a server's processes are counted beyond the one listening on its port
 * (RunningServer.parts): Parley with workers is a primary and its workers, plus the cluster's
 * redis-server, and every one of them is work the server does.
 */
export interface ServerParts {
  /** Count the listening process's whole tree (the primary and its workers), not it alone. */
  tree?: boolean;
  /** Further process trees whose CPU and memory are the server's, by name (redis), also apart. */
  extra?: Record<string, number>;
}

/**
 * The CPU seconds so far of a server, by part: "server" (its listening process, or its tree),
 * "db" (the tree of the database server it runs on, `dbPid`), and each of `parts.extra`.
 */
export function serverCpuParts(
  pid: number,
  dbPid?: number | null,
  parts?: ServerParts,
): Record<string, number> {
  const out: Record<string, number> = {
    server: parts?.tree ? treeCpuSeconds(pid) : cpuSeconds(pid),
  };
  if (dbPid) out.db = treeCpuSeconds(dbPid);
  for (const [name, root] of Object.entries(parts?.extra ?? {})) out[name] = treeCpuSeconds(root);
  return out;
}

/**
 * The server's memory in KiB: its listening process's RSS, or its tree's with `parts.tree`, plus
 * the trees of `parts.extra` (redis-server holds the cluster's session table). The database's is
 * left out, as for Parley on PostgreSQL: it does not grow with XMPP sessions.
 */
export function serverRssKiB(pid: number, parts?: ServerParts): number {
  const roots = Object.values(parts?.extra ?? {});
  const own = parts?.tree ? [pid, ...descendants(pid)] : [pid];
  const pids = [...own, ...roots.flatMap((r) => [r, ...descendants(r)])];
  return pids.reduce((s, p) => s + (rssKiB(p) || 0), 0);
}

/**
 * Samples a server's CPU between two moments: its process (or tree, ServerParts.tree), plus the
 * whole tree of a database it runs on (`dbPid`, PostgreSQL's postmaster), if any, and the
 * further trees of `parts.extra`.
 */
export class CpuMeter {
  private cpu0: Record<string, number> = {};
  private t0 = 0;
  constructor(
    private readonly pid: number,
    private readonly dbPid?: number | null,
    private readonly parts?: ServerParts,
  ) {}
  private now(): Record<string, number> {
    return serverCpuParts(this.pid, this.dbPid, this.parts);
  }
  start(): void {
    this.cpu0 = this.now();
    this.t0 = performance.now();
  }
  /** CPU used since start(), as % of one core. */
  percent(): number {
    const dt = (performance.now() - this.t0) / 1000;
    return (this.seconds() / dt) * 100;
  }
  seconds(): number {
    return Object.values(this.secondsByPart()).reduce((a, b) => a + b, 0);
  }
  /** CPU seconds since start() of each part (serverCpuParts). */
  secondsByPart(): Record<string, number> {
    const now = this.now();
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(now)) out[k] = v - (this.cpu0[k] ?? v);
    return out;
  }
}

/**
 * The load generator's CPU between two moments: its worker processes and this process (which
 * drives them), as a share of the whole machine (all cores), in %. On a machine the generator
 * shares with the server, this is what the server could not have.
 */
export class GeneratorMeter {
  private cpu0 = 0;
  private t0 = 0;
  constructor(
    private readonly pids: number[],
    private readonly cores: number,
  ) {}
  private now(): number {
    const self = process.cpuUsage();
    return (
      this.pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0) + (self.user + self.system) / 1e6
    );
  }
  start(): void {
    this.cpu0 = this.now();
    this.t0 = performance.now();
  }
  /** The share of the machine's CPU time since start(), in %. */
  share(): number {
    const dt = (performance.now() - this.t0) / 1000;
    return ((this.now() - this.cpu0) / (dt * this.cores)) * 100;
  }
}

/** The machine's CPU time so far, total and stolen by the hypervisor (/proc/stat, in ticks). */
export function cpuTicks(): { total: number; steal: number } {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1);
    const n = f.map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    return { total: n.slice(0, 8).reduce((a, b) => a + b, 0), steal: n[7] ?? 0 };
  } catch {
    return { total: NaN, steal: NaN };
  }
}

/** The share of CPU time the hypervisor took between two cpuTicks() readings, in %. */
export function stealPercent(
  a: ReturnType<typeof cpuTicks>,
  b: ReturnType<typeof cpuTicks>,
): number {
  return Math.round(((b.steal - a.steal) / Math.max(1, b.total - a.total)) * 100);
}
