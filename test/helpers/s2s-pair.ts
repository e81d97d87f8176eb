import { startTestServer, type TestServer } from "./server.js";
import type { ServerConfig } from "../../src/config/config.js";
import { startDnsServer, type DnsZone, type TestDnsServer } from "./dns-server.js";
import { freePort } from "./ports.js";

/** Parley servers that find each other through SRV records of a DNS server of the test. */
export interface S2SServers {
  dns: TestDnsServer;
  servers: Record<string, TestServer>;
  stop(): Promise<void>;
}

/** An SRV record set for a server on loopback at `port`. */
export function srvTo(port: number): DnsZone[string] {
  return [{ type: "SRV", priority: 0, weight: 5, port, target: "localhost" }];
}

/**
 * Starts one server per domain, each with an s2s listener and mod_s2s_dialback, plus `modules`;
 * each domain's service subdomains (`services`, e.g. "conference") get SRV records to it too.
 * `extraZone` adds records for domains no server serves.
 */
export async function startS2SServers(
  domains: string[],
  opts: {
    modules?: Record<string, Record<string, unknown>>;
    services?: string[];
    extraZone?: (ports: { dead: number }) => DnsZone;
    /** Last word on one server's config. */
    config?: (domain: string, c: ServerConfig) => void;
  } = {},
): Promise<S2SServers> {
  const ports = new Map<string, number>();
  for (const d of domains) ports.set(d, await freePort());
  const zone: DnsZone = opts.extraZone?.({ dead: await freePort() }) ?? {};
  for (const [d, port] of ports) {
    zone[`_xmpp-server._tcp.${d}`] = srvTo(port);
    for (const s of opts.services ?? []) zone[`_xmpp-server._tcp.${s}.${d}`] = srvTo(port);
  }
  const dns = await startDnsServer(zone);
  const servers: Record<string, TestServer> = {};
  try {
    for (const [d, port] of ports) {
      servers[d] = await startTestServer({
        hosts: [d],
        s2s: { port, dnsServers: [dns.address] },
        modules: { mod_s2s_dialback: {}, ...opts.modules },
        config: (c) => opts.config?.(d, c),
      });
    }
  } catch (err) {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await dns.close();
    throw err;
  }
  return {
    dns,
    servers,
    async stop() {
      await Promise.all(Object.values(servers).map((s) => s.stop()));
      await dns.close();
    },
  };
}

/** The port of a test server's s2s listener. */
export function s2sPort(t: TestServer): number {
  return t.server.ports().find((p) => p.module === "s2s")!.port;
}
