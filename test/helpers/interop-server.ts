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
import { testHttpListener } from "../../src/testkit/index.js";
import { freePort } from "./ports.js";
import { startTestServer, type TestServer } from "./server.js";

const SHIPPED_CONFIG = join(dirname(fileURLToPath(import.meta.url)), "../../config/parley.yml");

export interface InteropServer extends TestServer {
  /** PEM of the server's self-signed certificate for `localhost`. */
  cafile: string;
}

export async function startInteropServer(): Promise<InteropServer> {
  const { modules } = loadConfig(SHIPPED_CONFIG);
  // The shipped HTTP upload on a plain loopback listener the Python clients reach (its
  // https://…:5443 put_url would need a listener on that port and a CA the libraries trust).
  const httpPort = await freePort();
  if (modules.mod_http_upload) {
    modules.mod_http_upload = {
      ...modules.mod_http_upload,
      put_url: `http://localhost:${httpPort}/upload`,
    };
  }
  const t = await startTestServer({
    modules,
    config: (c) => {
      c.http = [
        { ...testHttpListener([{ path: "/upload", handler: "mod_http_upload" }]), port: httpPort },
      ];
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
