/**
 * The server the interop tests talk to: a real Parley from the test kit, with the modules and
 * options of the shipped config/parley.yml (what a user who runs `npm start` gets), and the path
 * of its generated self-signed certificate, which the Python clients trust the way a user who
 * accepted it in Gajim would.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config/config.js";
import { testHttpListener, WEB_HANDLERS } from "../../src/testkit/index.js";
import { freePort } from "./ports.js";
import { startTestServer, type TestServer } from "./server.js";
import type { TestServerOptions } from "../../src/testkit/index.js";

const SHIPPED_CONFIG = join(dirname(fileURLToPath(import.meta.url)), "../../config/parley.yml");

export interface InteropServer extends TestServer {
  /** PEM of the server's self-signed certificate for `localhost`. */
  cafile: string;
}

/** `http` adds the test kit's HTTP listener (WebSocket and the rest) for web clients. */
export async function startInteropServer(
  opts: Pick<TestServerOptions, "http"> = {},
): Promise<InteropServer> {
  // The shipped modules, with the acl / access_rules / shaper_rules their options name.
  const { modules, access } = loadConfig(SHIPPED_CONFIG);
  // One plain loopback HTTP listener: the shipped HTTP upload, which the Python clients reach
  // there (its https://…:5443 put_url would need a listener on that port and a CA the libraries
  // trust), plus the handlers a web-client test asks for (`http`).
  const httpPort = await freePort();
  if (modules.mod_http_upload) {
    modules.mod_http_upload = {
      ...modules.mod_http_upload,
      put_url: `http://localhost:${httpPort}/upload`,
    };
  }
  // The shipped SOCKS5 proxy listens on 127.0.0.1:7777; any free port here, so servers of
  // several test files can run at once.
  if (modules.mod_proxy65) modules.mod_proxy65 = { ...modules.mod_proxy65, port: 0 };
  const asked = opts.http === undefined ? [] : opts.http === true ? WEB_HANDLERS : opts.http;
  const handlers = [
    ...asked.filter((h) => h.path !== "/upload"),
    { path: "/upload", handler: "mod_http_upload" },
  ];
  const t = await startTestServer({
    modules,
    config: (c) => {
      c.access = access;
      c.http = [{ ...testHttpListener(handlers), port: httpPort }];
    },
  });
  const cafile = join(t.config.dataDir, "certs", "localhost.pem");
  if (!existsSync(cafile)) throw new Error(`no generated certificate at ${cafile}`);
  return Object.assign(t, { cafile });
}

/** The `authenticated` log lines (one per successful SASL login), oldest first. */
export function authentications(t: TestServer): { jid?: unknown; mechanism?: unknown }[] {
  return t.logs.filter((l) => l.msg === "authenticated");
}
