// mod_fail2ban: bans, for a while, an IP address that failed client authentication too often
// (ejabberd's module of the same name and options). Its next connections get the stream error
// policy-violation when they open their stream, before any authentication.
import { BlockList, isIP } from "node:net";
import { AdminCommandError, StreamError, defineModule, opt, STOP } from "../src/moduleapi.js";

/** How often expired records are dropped (bans are also checked for expiry on each use). */
const CLEAN_MS = 10 * 60_000;

interface Record {
  failures: number;
  /** When the address is free again: the last failure plus the ban lifetime. */
  until: number;
}

/** An IPv4 address as IPv4, also when a dual-stack listener reports it IPv4-mapped. */
function plainIp(ip: string): string {
  return ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** ejabberd's way of writing the time of unbanning: "HH:MM:SS DD.MM.YYYY" (UTC). */
function utcTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, "0");
  return (
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ` +
    `${two(d.getUTCDate())}.${two(d.getUTCMonth() + 1)}.${d.getUTCFullYear()}`
  );
}

/** The refusal a banned address gets (ejabberd's text, so admins and clients recognise it). */
function banError(failures: number, ip: string, until: number): StreamError {
  return new StreamError(
    "policy-violation",
    `Too many (${failures}) failed authentications from this IP address (${ip}). ` +
      `The address will be unblocked at ${utcTime(until)} UTC`,
  );
}

/** "192.0.2.7", "2001:db8::/32" or "::ffff:127.0.0.1/128": the addresses unban_ip matches. */
function network(text: string): BlockList | null {
  const [address = "", bits] = text.trim().split("/");
  const ip = plainIp(address);
  const family = isIP(ip);
  if (family === 0) return null;
  const max = family === 4 ? 32 : 128;
  const mapped = ip !== address && bits !== undefined ? Number(bits) - 96 : Number(bits ?? max);
  if (!Number.isInteger(mapped) || mapped < 0 || mapped > max) return null;
  const list = new BlockList();
  list.addSubnet(ip, mapped, family === 4 ? "ipv4" : "ipv6");
  return list;
}

export default defineModule({
  name: "mod_fail2ban",
  description: "Bans IP addresses that fail client authentication too often",
  options: {
    c2s_auth_ban_lifetime: opt.seconds(
      3600,
      "How long an address stays banned after its last failed authentication",
      { min: 1 },
    ),
    c2s_max_auth_failures: opt.integer(
      20,
      "Failed authentications from one address that get it banned",
      { min: 1 },
    ),
    access: opt.access(
      "none",
      "Addresses this access rule allows are never banned (e.g. an ip ACL of your own network)",
    ),
  },
  start(ctx) {
    const lifetimeMs = ctx.options.c2s_auth_ban_lifetime * 1000;
    const max = ctx.options.c2s_max_auth_failures;
    /** Failed authentications by address, for this host. */
    const failed = new Map<string, Record>();
    const banned = (r: Record | undefined, now: number): r is Record =>
      r !== undefined && r.failures >= max && r.until > now;

    // A banned address's stream is refused as soon as it says which host it is for.
    ctx.hook(
      "c2s_stream_started",
      (p) => {
        const ip = plainIp(p.session.remoteAddress);
        const r = failed.get(ip);
        if (!r || r.failures < max) return;
        const now = Date.now();
        if (!banned(r, now)) {
          failed.delete(ip);
          return;
        }
        p.session.log.warn(
          { ip, failures: r.failures, until: new Date(r.until).toISOString() },
          "connection from a banned address refused",
        );
        p.error = banError(r.failures, ip, r.until);
        return STOP;
      },
      "guard",
    );

    ctx.hook("c2s_auth_result", ({ session, success, username, condition }) => {
      const ip = plainIp(session.remoteAddress);
      if (success) {
        failed.delete(ip);
        return;
      }
      // Wrong credentials (RFC 6120 §6.5.10), not a client giving up or our storage failing.
      if (condition !== "not-authorized") return;
      if (ctx.allowed(ctx.options.access, { ip })) return;
      const now = Date.now();
      const prev = failed.get(ip);
      const r = { failures: (prev?.failures ?? 0) + 1, until: now + lifetimeMs };
      failed.set(ip, r);
      if (r.failures < max) return;
      session.log.warn(
        { ip, username, failures: r.failures, until: new Date(r.until).toISOString() },
        "too many failed authentications: address banned",
      );
      session.close(banError(r.failures, ip, r.until));
    });

    ctx.setInterval(() => {
      const now = Date.now();
      for (const [ip, r] of failed) if (r.until <= now) failed.delete(ip);
    }, CLEAN_MS);

    ctx.gauge("banned_ips", "Addresses banned now for failed authentications", () => {
      const now = Date.now();
      let n = 0;
      for (const r of failed.values()) if (banned(r, now)) n++;
      return n;
    });

    // ejabberd's unban_ip: forgets the failures of the addresses in a network.
    ctx.command("unban_ip", {
      args: ["ADDRESS"],
      help: "Unbans the addresses in ADDRESS (an IP address, or a network such as 192.0.2.0/24)",
      run([address = ""]) {
        const net = network(address);
        if (!net) throw new AdminCommandError(`not an IP address or network: ${address}`, true);
        let n = 0;
        for (const ip of [...failed.keys()]) {
          if (net.check(ip, isIP(ip) === 4 ? "ipv4" : "ipv6")) {
            failed.delete(ip);
            n++;
          }
        }
        return `${ctx.host}: ${n} address${n === 1 ? "" : "es"} unbanned`;
      },
    });
  },
});
