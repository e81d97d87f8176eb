// mod_proxy65: XEP-0065 SOCKS5 Bytestreams proxy, as ejabberd's module of that name. Two
// clients behind NAT that cannot connect to each other both connect to the proxy and the
// Requester activates the pair; used by Jingle file transfer (XEP-0260) and XEP-0096.
//
// Handles:
//   to proxy.<host> (service.ts): disco#info (identity proxy/bytestreams), disco#items (empty),
//                  the streamhost's address (§4), activation (§6.3), errors as §4 and §6.3 say
//   TCP, ip:port (listener.ts): SOCKS5 with no authentication, CONNECT to the bytestream's hash
//                  (§5.3.2), then the bytes both ways once activated (relay.ts)
// Disco: the proxy is an item of the host (§4).
// The listener is shared by the hosts that use the same ip and port, and closed (with every
// bytestream on it) when the module stops on the last of them.
import { lookup } from "node:dns/promises";
import { defineModule } from "../../src/moduleapi.js";
import { openListener } from "./listener.js";
import { proxyOptions } from "./options.js";
import { serveProxy } from "./service.js";

export default defineModule({
  name: "mod_proxy65",
  description: "XEP-0065: SOCKS5 Bytestreams proxy for file transfer between clients",
  options: proxyOptions,
  async start(ctx) {
    const o = ctx.options;
    const expand = (s: string): string => s.replaceAll("@HOST@", ctx.host);
    const domain = expand(o.host);
    // ejabberd's default: the address the proxy's own name resolves to, else loopback.
    const ip =
      o.ip ||
      (await lookup(domain).then(
        (a) => a.address,
        () => "127.0.0.1",
      ));
    if (!o.hostname && (ip === "0.0.0.0" || ip === "::")) {
      throw new Error(
        `ip ${ip} listens on every interface, which is no address to give clients: set hostname (the proxy's public name or address)`,
      );
    }
    const hostname = o.hostname ? expand(o.hostname) : ip;
    const limits = {
      activationTimeoutMs: o.activation_timeout * 1000,
      maxPerIp: o.max_connections_per_ip,
    };
    const { listener, release } = await openListener(ip, o.port, limits, ctx.log).catch(
      (err: Error) => {
        throw new Error(`cannot listen for SOCKS5 on ${ip}:${o.port}: ${err.message}`);
      },
    );
    ctx.onStop(release);
    serveProxy({ ctx, domain, hostname, listener });
    ctx.log.info({ domain, ip, port: listener.port, hostname }, "SOCKS5 bytestreams proxy");
  },
});
