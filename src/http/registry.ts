import type { HttpHandler } from "./types.js";

/**
 * The HTTP handlers by the names `request_handlers` uses: the core's built-ins and those modules
 * register (ctx.httpHandler, under the module's name). A module runs once per served host, so a
 * name may have one handler per host; a request goes to the handler of the host it names (its
 * Host header), else to the first host's that has one.
 */
export class HttpHandlers {
  private readonly byName = new Map<string, Map<string, HttpHandler>>();

  /** Registers `handler` as `name` for `host` ("" for the built-ins); returns its removal. */
  add(name: string, host: string, handler: HttpHandler): () => void {
    let hosts = this.byName.get(name);
    if (!hosts) this.byName.set(name, (hosts = new Map()));
    if (hosts.has(host)) throw new Error(`HTTP handler ${name} is already registered for ${host}`);
    hosts.set(host, handler);
    return () => {
      if (hosts.get(host) !== handler) return;
      hosts.delete(host);
      if (hosts.size === 0 && this.byName.get(name) === hosts) this.byName.delete(name);
    };
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The handler `name` for the request's host name, or undefined when nobody registered it. */
  find(name: string, hostname: string): HttpHandler | undefined {
    const hosts = this.byName.get(name);
    if (!hosts) return undefined;
    return hosts.get(hostname) ?? hosts.get("") ?? hosts.values().next().value;
  }
}
