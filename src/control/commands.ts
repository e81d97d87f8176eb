import { hostname } from "node:os";
import { StreamError } from "../xmpp/errors.js";
import { makeJID } from "../jid.js";
import type { CoreContext } from "../context.js";
import { removeAccount } from "../module-context.js";
import { isBusyError } from "../storage/sqlite.js";
import type { ControlHandler } from "./server.js";
import type { ControlResponse } from "./protocol.js";
import { ACCOUNT_COMMANDS, runAccountCommand, type AccountBackend } from "./account-commands.js";
import { stats, top, type ClientView } from "./stats.js";

/** What the control commands need of the running server (the Server class; no import back). */
export interface ControlledServer {
  readonly ctx: CoreContext;
  readonly connectionCount: number;
  readonly startedAt: number;
  reloadConfig(): Promise<string[]>;
  /** The client connections, bound or not (stats, top). */
  clients(): Iterable<ClientView>;
  /** This node's membership of a cluster, or null on one node. */
  readonly cluster: {
    readonly nodeName: string;
    nodes(): Promise<
      { name: string; host: string; pid: number; startedAt: number; alive: boolean }[]
    >;
  } | null;
}

/** Commands answered by the running server, named as in ejabberdctl. */
export function controlCommands(
  server: ControlledServer,
  requestStop: () => void,
): Record<string, ControlHandler> {
  const { sm } = server.ctx;
  // parleyctl sends these here when the server runs, so that one process writes the database.
  const backend: AccountBackend = {
    accounts: server.ctx.accounts,
    hosts: () => [...server.ctx.hosts],
    unregister: (user, host) => removeAccount(server.ctx, user, host),
  };
  const accountHandlers = Object.fromEntries(
    ACCOUNT_COMMANDS.map((name) => [
      name,
      (args: string[]): Promise<ControlResponse> =>
        runAccountCommand(backend, name, args).catch((err: unknown) => {
          // Some other process writes the file (busy_timeout passed): say which file.
          if (!isBusyError(err)) throw err;
          return {
            ok: false,
            error: `the ${server.ctx.storage.location} is locked by another process; nothing was changed`,
          };
        }),
    ]),
  );
  return {
    ...accountHandlers,
    status: async () => ({
      ok: true,
      result: {
        status: "started",
        sessions: sm.size,
        connections: server.connectionCount,
        uptimeSeconds: Math.round((Date.now() - server.startedAt) / 1000),
        hosts: server.ctx.config.hosts,
        ...(server.cluster
          ? {
              node: server.cluster.nodeName,
              clusterSessions: sm.clusterSize,
              clusterNodes: (await server.cluster.nodes()).filter((n) => n.alive).length,
            }
          : {}),
      },
    }),
    // ejabberdctl list_cluster: the nodes that run, this one included; on one node, this one.
    list_cluster: async () => ({
      ok: true,
      result: server.cluster
        ? (await server.cluster.nodes()).filter((n) => n.alive).map((n) => n.name)
        : [hostname()],
    }),
    connected_users: () => ({
      ok: true,
      result: [...sm.all()].map((s) => s.jid.toString()).sort(),
    }),
    // ejabberdctl's names; a link counts once it is authenticated (incoming) or ready (outgoing).
    incoming_s2s_number: () => ({ ok: true, result: String(server.ctx.s2s.incomingCount) }),
    outgoing_s2s_number: () => ({ ok: true, result: String(server.ctx.s2s.outgoingCount) }),
    kick_session: ([user, host, resource, ...reason]) => {
      if (!user || !host || !resource)
        return { ok: false, error: "usage: kick_session USER HOST RESOURCE REASON" };
      const session = sm.get(makeJID(user, host, resource));
      if (!session) return { ok: false, error: `no session ${user}@${host}/${resource}` };
      // ejabberd closes a kicked session with policy-violation and the admin's reason as text.
      session.close(
        new StreamError("policy-violation", reason.join(" ") || "kicked by an administrator"),
      );
      return { ok: true, result: "" };
    },
    reload_config: async () => ({ ok: true, result: await server.reloadConfig() }),
    stats: (args) => stats(server, args),
    top: (args) => top(server, args),
    // For `parleyctl help` while the server runs: what its modules offer.
    module_commands: () => ({
      ok: true,
      result: server.ctx.commands
        .describe()
        .map((c) => `  ${[c.name, ...c.args].join(" ").padEnd(44)} ${c.help} (${c.owner})`),
    }),
    stop: () => {
      setImmediate(requestStop);
      return { ok: true, result: "" };
    },
    // Answered by the primary of `parley --workers` (src/workers/control.ts); here, reached
    // on a server of one process, they say why there is nothing to do.
    list_workers: noWorkers,
    restart_workers: noWorkers,
  };
}

function noWorkers(): ControlResponse {
  return {
    ok: false,
    error:
      "no workers here: this server was started without --workers (or this socket is one " +
      "worker's own, not its primary's)",
  };
}
