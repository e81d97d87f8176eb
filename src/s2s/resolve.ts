/*
 * Where to connect for a server-to-server link to a domain: RFC 6120 §3.2 (SRV lookup, else the
 * domain's own address), XEP-0368 §3 (the direct TLS records beside the STARTTLS ones) and
 * RFC 2782 (the order within a priority).
 */
import { lookup, Resolver } from "node:dns/promises";
import { isIPv4 } from "node:net";
import { domainToASCII } from "node:url";
import { JIDError, prepDomainpart } from "../jid.js";
import { StanzaError } from "../xmpp/errors.js";

export interface S2STarget {
  host: string;
  port: number;
  directTls: boolean;
}

export interface ResolveOptions {
  /** outgoing_s2s_port: the fallback port when there is no SRV record (default 5269). */
  port: number;
  /** s2s_dns_timeout in ms, per query. */
  timeoutMs: number;
  /** s2s_dns_retries. */
  retries: number;
  /** DNS servers to ask instead of the system's (tests); e.g. ["127.0.0.1:5353"]. */
  servers?: string[];
}

/** One usable SRV record, with what RFC 2782 orders it by. */
export interface SrvCandidate extends S2STarget {
  priority: number;
  weight: number;
}

/** What one SRV query said. */
interface SrvAnswer {
  /** The records one can connect to (not the "." root target, not port 0). */
  usable: SrvCandidate[];
  /** The query returned SRV records, usable or not (RFC 6120 §3.2.1 step 8: then no fallback). */
  answered: boolean;
  /** Why there were no records (NXDOMAIN, NODATA, timeout...), for the log of a fallback. */
  error?: string;
}

/** The two services of XEP-0368 §3 and RFC 6120 §3.2.1, and how each is connected to. */
const SERVICES = [
  { prefix: "_xmpps-server._tcp.", directTls: true },
  { prefix: "_xmpp-server._tcp.", directTls: false },
] as const;

/** Error codes of node:dns that mean "no answer in time", worth asking again. */
const TIMEOUT_CODES = new Set(["ETIMEOUT", "ECANCELLED"]);

/**
 * The places to try, in order; throws a StanzaError('remote-server-not-found') when the domain
 * says it has no XMPP service (a "." SRV target) or nothing at all resolves.
 *
 * `host` is an SRV target (or the domain itself, in ASCII form, on fallback), to be resolved by
 * the connect with the system resolver; certificates are checked against the domain, not `host`.
 */
export async function resolveS2S(domain: string, opts: ResolveOptions): Promise<S2STarget[]> {
  const name = dnsName(domain);
  // An IP literal has no SRV records to ask for: its address is the place (RFC 6120 §3.2.2).
  if (name.ip) return [{ host: name.ip, port: opts.port, directTls: false }];

  const answers = await Promise.all(
    SERVICES.map((s) => querySrv(`${s.prefix}${name.ascii}`, s.directTls, opts)),
  );
  const usable = answers.flatMap((a) => a.usable);
  if (usable.length > 0) return orderTargets(usable);

  // RFC 6120 §3.2.1 step 3 (a lone "." target: "decidedly not available") and step 8 (records,
  // none of them usable: no fallback); XEP-0368 §3: a "." on _xmpps-server forbids the A/AAAA
  // fallback too, so either service answering without a target ends here.
  const said = SERVICES.filter((_, i) => answers[i]!.answered).map((s) => s.prefix + name.ascii);
  if (said.length > 0) {
    throw new StanzaError(
      "remote-server-not-found",
      `${domain} offers no XMPP server-to-server service (no usable target in ${said.join(" or ")})`,
    );
  }

  // RFC 6120 §3.2.2: no SRV answer at all, so the domain's own address on the default port.
  // The connect resolves it; asking the system resolver now turns a name that does not exist
  // into a bounce here, with the reason.
  try {
    await lookup(name.ascii);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new StanzaError(
      "remote-server-not-found",
      `${domain} does not resolve (${code}; SRV: ${answers.map((a) => a.error ?? "none").join(", ")})`,
    );
  }
  return [{ host: name.ascii, port: opts.port, directTls: false }];
}

/**
 * The domain as an IP address (IPv4, or IPv6 without its brackets) or as an ASCII DNS name.
 * A domain that is neither (RFC 7622 §3.2, RFC 1035 §2.3.4) is reported as not found.
 */
function dnsName(domain: string): { ip?: string; ascii: string } {
  let prepped: string;
  try {
    prepped = prepDomainpart(domain);
  } catch (err) {
    const why = err instanceof JIDError ? err.message : String(err);
    throw new StanzaError("remote-server-not-found", `${domain} is not a domain name (${why})`);
  }
  if (prepped.startsWith("[")) return { ip: prepped.slice(1, -1), ascii: prepped };
  if (isIPv4(prepped)) return { ip: prepped, ascii: prepped };
  const ascii = domainToASCII(prepped);
  if (ascii === "" || ascii.length > 253) {
    throw new StanzaError("remote-server-not-found", `${domain} is not a DNS name`);
  }
  return { ascii };
}

/**
 * One SRV query, asked up to max(1, retries) times while it times out, each time for at most
 * timeoutMs. As ejabberd's s2s_dns_retries, the number counts the attempts. The timer is ours:
 * c-ares stretches its own timeout between tries, so it would not bound the wait.
 */
async function querySrv(
  name: string,
  directTls: boolean,
  opts: ResolveOptions,
): Promise<SrvAnswer> {
  const attempts = Math.max(1, opts.retries);
  let error = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const resolver = new Resolver({ timeout: opts.timeoutMs, tries: 1 });
    if (opts.servers) resolver.setServers(opts.servers);
    const timer = setTimeout(() => resolver.cancel(), opts.timeoutMs);
    try {
      const records = await resolver.resolveSrv(name);
      const usable = records
        // RFC 2782: the root target means "decidedly not available"; port 0 reaches nothing.
        .filter((r) => r.name !== "" && r.name !== "." && r.port > 0)
        .map((r) => ({
          host: r.name.toLowerCase().replace(/\.$/, ""),
          port: r.port,
          directTls,
          priority: r.priority,
          weight: r.weight,
        }));
      return { usable, answered: records.length > 0 };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      error = `${name}: ${code === "ECANCELLED" ? "ETIMEOUT" : code}`;
      if (!TIMEOUT_CODES.has(code)) break;
    } finally {
      clearTimeout(timer);
    }
  }
  return { usable: [], answered: false, error };
}

/**
 * Orders SRV records: by priority, lowest first (RFC 2782); at equal priority the direct TLS
 * ones first, which XEP-0368 §3 rule 1 allows ("MAY choose to prefer one type"), as they save
 * the STARTTLS round trips and cannot be stripped; then each set by RFC 2782's weighted random
 * selection. Identical (host, port, directTls) entries keep their first place only.
 */
export function orderTargets(
  records: SrvCandidate[],
  random: () => number = Math.random,
): S2STarget[] {
  const groups = new Map<string, SrvCandidate[]>();
  const sorted = [...records].sort(
    (a, b) => a.priority - b.priority || Number(b.directTls) - Number(a.directTls),
  );
  for (const r of sorted) {
    const key = `${r.priority}/${r.directTls}`;
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  const seen = new Set<string>();
  const out: S2STarget[] = [];
  for (const group of groups.values()) {
    for (const r of weightedOrder(group, random)) {
      const key = `${r.host}\0${r.port}\0${r.directTls}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ host: r.host, port: r.port, directTls: r.directTls });
    }
  }
  return out;
}

/**
 * RFC 2782 "Usage rules": the zero-weight records first, then repeatedly a uniform random number
 * in [0, sum of the weights left] picks the first record whose running sum reaches it; so a
 * zero-weight record is still tried, and a heavy record tends to come early.
 */
function weightedOrder(group: SrvCandidate[], random: () => number): SrvCandidate[] {
  const left = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight > 0)];
  const out: SrvCandidate[] = [];
  while (left.length > 0) {
    const total = left.reduce((sum, r) => sum + r.weight, 0);
    const pick = Math.min(total, Math.floor(random() * (total + 1)));
    let running = 0;
    const at = left.findIndex((r) => (running += r.weight) >= pick);
    out.push(...left.splice(at, 1));
  }
  return out;
}
