import { hostname } from "node:os";
import type { Logger } from "../log.js";
import { keys } from "./keys.js";
import type { RedisClient } from "./redis.js";

/** What the cluster knows of a node (parleyctl list_cluster). */
export interface NodeInfo {
  name: string;
  /** The machine it runs on and its process, for the admin. */
  host: string;
  pid: number;
  /** When it started (ms since the epoch). */
  startedAt: number;
}

/** A node of `parley:nodes`, with whether its lease still runs. */
export interface NodeStatus extends NodeInfo {
  alive: boolean;
}

/**
 * This node's lease: a Redis key with a time to live that the node renews at a third of it.
 * A node that stops renewing (killed, hung, cut off from Redis) is dead for the others once the
 * key expires, and one of them cleans up after it (reaper.ts). A node that finds its own lease
 * gone was counted dead meanwhile: its sessions may have been cleaned up, so it must let them go.
 */
export class NodeLease {
  private timer: NodeJS.Timeout | null = null;
  readonly info: NodeInfo;

  constructor(
    private readonly redis: RedisClient,
    name: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
    /** Called once the lease was found lapsed while the node ran. */
    private readonly onLost: () => void,
  ) {
    this.info = { name, host: hostname(), pid: process.pid, startedAt: Date.now() };
  }

  /**
   * Whether the lease is held by an earlier process of this node on this machine that is gone
   * (killed, crashed and restarted at once by systemd): its lease has not lapsed yet, but no
   * one renews it. Such a lease is given up, so this process can take the name.
   */
  async heldByDeadProcessHere(): Promise<boolean> {
    const holder = await this.redis.get(keys.lease(this.info.name));
    if (!holder) return false;
    const who = JSON.parse(holder) as NodeInfo;
    if (who.host !== this.info.host || who.pid === process.pid || processAlive(who.pid)) {
      return false;
    }
    // Only that holder's lease: a live node that took the name meanwhile keeps it.
    await this.redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      { keys: [keys.lease(this.info.name)], arguments: [holder] },
    );
    this.log.warn({ pid: who.pid }, "this node's previous process is gone; taking its name over");
    return true;
  }

  /** Takes the lease; fails when a live node holds the name. */
  async acquire(): Promise<void> {
    const { name } = this.info;
    const got = await this.redis.set(keys.lease(name), JSON.stringify(this.info), {
      condition: "NX",
      expiration: { type: "PX", value: this.leaseMs },
    });
    if (got !== "OK") {
      const holder = await this.redis.get(keys.lease(name));
      const who = holder ? (JSON.parse(holder) as NodeInfo) : null;
      throw new Error(
        `node_name ${name} is in use by a live node` +
          (who ? ` (pid ${who.pid} on ${who.host})` : "") +
          `: give each node its own node_name (or --node-name)`,
      );
    }
    await this.redis.hSet(keys.nodes, name, JSON.stringify(this.info));
    this.timer = setInterval(() => void this.renew(), Math.max(200, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      const ok = await this.redis.set(keys.lease(this.info.name), JSON.stringify(this.info), {
        condition: "XX",
        expiration: { type: "PX", value: this.leaseMs },
      });
      if (ok === "OK") return;
      this.log.error(
        { node: this.info.name },
        "this node's cluster lease lapsed (Redis unreachable or the process stalled longer than cluster_lease): its sessions were handed to the cluster; closing them",
      );
      this.stopRenewing();
      this.onLost();
    } catch (err) {
      // Redis unreachable: the lease may lapse; the next renewal tells.
      this.log.warn({ err }, "cannot renew the cluster lease");
    }
  }

  private stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Gives the lease up at a clean stop, after the node handed its sessions over. */
  async release(): Promise<void> {
    this.stopRenewing();
    await this.redis.del(keys.lease(this.info.name));
    await this.redis.hDel(keys.nodes, this.info.name);
  }
}

/** Every node the cluster knows, alive or waiting to be cleaned up. */
export async function listNodes(redis: RedisClient): Promise<NodeStatus[]> {
  const all = await redis.hGetAll(keys.nodes);
  const names = Object.keys(all).sort();
  if (names.length === 0) return [];
  const leases = await redis.mGet(names.map((n) => keys.lease(n)));
  return names.map((name, i) => ({
    ...(JSON.parse(all[name]!) as NodeInfo),
    name,
    alive: leases[i] !== null,
  }));
}

/** Whether a process of this machine runs (signal 0 probes without signalling). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // someone else's: it runs
  }
}
