// The private network and mount namespace of a federation run (test/federation/run.ts) and of
// the benchmark's s2s scenario (s2s-run.ts), each started by `unshare --mount --net
// --propagation private`: only a loopback interface, on which every address of 127/8 is local,
// so each server gets an address of its own and listens on the standard ports there; a hosts
// file and a resolv.conf of our own are bind-mounted over the system's, which stay untouched
// outside (the mounts are private to the namespace and end with it), and resolv.conf names
// 127.0.0.1, where dns-server.ts answers from the same table, so no query leaves the namespace.
import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The command line that runs `args` in a namespace of its own (as root; CI runs as root). */
export function inNamespace(args: string[]): { cmd: string; args: string[] } {
  return { cmd: "unshare", args: ["--mount", "--net", "--propagation", "private", ...args] };
}

/**
 * Refuses to go on unless this process is in a network and a mount namespace other than those of
 * `outerPid` (the process that ran unshare: the mocha side passes its own pid), with nothing but
 * a loopback interface: the bind mounts below would otherwise cover the machine's real
 * /etc/hosts and resolv.conf.
 */
export function assertOwnNamespace(outerPid: number): void {
  const ns = (pid: number | "self", kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);
  for (const kind of ["net", "mnt"]) {
    if (ns("self", kind) === ns(outerPid, kind)) {
      throw new Error(
        `not in a ${kind} namespace of its own: run this under ` +
          `\`unshare --mount --net --propagation private\` (see bench/lib/netns.ts)`,
      );
    }
  }
  // /proc/self/net is this namespace's (/sys/class/net is the namespace's that mounted sysfs).
  const links = readFileSync("/proc/self/net/dev", "utf8")
    .split("\n")
    .slice(2)
    .map((l) => l.split(":")[0]!.trim())
    .filter(Boolean);
  if (links.join() !== "lo") {
    throw new Error(`the namespace has network interfaces besides lo: ${links.join(", ")}`);
  }
}

/**
 * After assertOwnNamespace, brings up lo and mounts a hosts file with `names` (name → address) and a resolv.conf naming
 * 127.0.0.1 over the system's, both written into `dir`.
 */
export function setUpNetwork(dir: string, names: Map<string, string>, outerPid: number): void {
  assertOwnNamespace(outerPid);
  execFileSync("ip", ["link", "set", "lo", "up"]);
  const hosts = join(dir, "hosts");
  const byAddress = new Map<string, string[]>();
  for (const [name, address] of names) {
    byAddress.set(address, [...(byAddress.get(address) ?? []), name]);
  }
  const lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"];
  for (const [address, all] of byAddress) lines.push(`${address} ${all.join(" ")}`);
  writeFileSync(hosts, lines.join("\n") + "\n", { mode: 0o644 });
  const resolv = join(dir, "resolv.conf");
  // One attempt, a short timeout: a resolver that asks for something we do not serve hears
  // NXDOMAIN at once anyway.
  writeFileSync(resolv, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", { mode: 0o644 });
  execFileSync("mount", ["--bind", hosts, "/etc/hosts"]);
  execFileSync("mount", ["--bind", resolv, "/etc/resolv.conf"]);
}
