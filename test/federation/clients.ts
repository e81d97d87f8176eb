// The users of a federation run: registered in-band on their own server (XEP-0077, the way the
// benchmark creates its users on all three servers), then logged in with slixmpp
// (test/interop/slix_client.py) on their server's own address, trusting the run's test CA only.
import { login } from "../../bench/lib/xmpp.js";
import { SaltedPasswordCache } from "../../bench/lib/scram.js";
import { PythonClient } from "../helpers/python-client.js";
import { C2S_PORT } from "./servers.js";

export interface Account {
  user: string;
  domain: string;
  /** The server's address (its c2s listener there). */
  address: string;
  /**
   * What the client trusts for its own server's certificate: the test CA, or the self-signed
   * certificate of a dialback-only domain (a user who accepted it); `checkName` false for the
   * domain whose certificate names another on purpose. Their own link is not what is tested.
   */
  trust: { caFile: string; checkName: boolean };
}

export const bare = (a: Account): string => `${a.user}@${a.domain}`;
const password = (a: Account): string => `fed-${a.user}-${a.domain}`;

/** Creates the account by in-band registration on its server, over STARTTLS. */
export async function register(a: Account): Promise<void> {
  const { conn, existed } = await login({
    host: a.address,
    port: C2S_PORT,
    domain: a.domain,
    user: a.user,
    password: password(a),
    resource: "register",
    cache: new SaltedPasswordCache(),
    timeoutMs: 20_000,
    register: true,
    authOnly: true,
  });
  await conn.close();
  if (existed) throw new Error(`${bare(a)} existed before the run registered it`);
}

export interface FedClient {
  account: Account;
  /** The full JID it is bound to. */
  jid: string;
  py: PythonClient;
}

/**
 * Logs `a` in with slixmpp, gets the roster and sends available presence (waiting for the
 * server's echo).
 */
export async function connect(a: Account): Promise<FedClient> {
  const py = PythonClient.start(
    "slix_client.py",
    [
      "--host",
      a.address,
      "--port",
      String(C2S_PORT),
      "--jid",
      `${bare(a)}/fed`,
      "--password",
      password(a),
      "--cafile",
      a.trust.caFile,
      ...(a.trust.checkName ? [] : ["--no-check-hostname"]),
      "--deadline",
      "300",
    ],
    `slixmpp:${bare(a)}`,
  );
  try {
    const started = await py.next("session_start", () => true, 20_000);
    const jid = String(started.jid);
    // RFC 6121 §2.1.6: roster pushes go to the resources that asked for the roster (Prosody
    // sends them to no other), as a client does on login.
    py.send({ cmd: "roster_get" });
    await py.next("roster", () => true, 10_000);
    py.send({ cmd: "presence" });
    await py.next("presence", (e) => e.from === jid, 10_000);
    return { account: a, jid, py };
  } catch (err) {
    await py.kill();
    throw err;
  }
}
