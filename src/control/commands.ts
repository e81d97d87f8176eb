import { StreamError } from "../xmpp/errors.js";
import { makeJID } from "../jid.js";
import type { Server } from "../server.js";
import type { ControlHandler } from "./server.js";

/** Commands answered by the running server, named as in ejabberdctl. */
export function controlCommands(
  server: Server,
  requestStop: () => void,
): Record<string, ControlHandler> {
  const { sm } = server.ctx;
  return {
    status: () => ({
      ok: true,
      result: {
        status: "started",
        sessions: sm.size,
        connections: server.connectionCount,
        uptimeSeconds: Math.round((Date.now() - server.startedAt) / 1000),
        hosts: server.ctx.config.hosts,
      },
    }),
    connected_users: () => ({
      ok: true,
      result: [...sm.all()].map((s) => s.jid.toString()).sort(),
    }),
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
    /** Used by `unregister` after it removed the account: modules forget it, sessions end. */
    kick_user: ([user, host]) => {
      if (!user || !host) return { ok: false, error: "usage: kick_user USER HOST" };
      server.ctx.hooks.run("remove_user", { username: user, host });
      const sessions = sm.resources(makeJID(user, host));
      for (const s of sessions)
        s.close(new StreamError("not-authorized", "the account was removed"));
      return { ok: true, result: String(sessions.length) };
    },
    reload_config: async () => ({ ok: true, result: await server.reloadConfig() }),
    stop: () => {
      setImmediate(requestStop);
      return { ok: true, result: "" };
    },
  };
}
