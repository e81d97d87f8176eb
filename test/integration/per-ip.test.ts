import { strict as assert } from "node:assert";
import { connect as tlsConnect } from "node:tls";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { RawClient } from "../helpers/raw.js";

/** Whether a direct-TLS connection gets through its handshake (false: closed before). */
function tlsHandshake(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false });
    s.once("secureConnect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.once("close", () => resolve(false));
  });
}

describe("per-address limits on c2s listeners: max_connections_per_ip, max_connection_rate_per_ip", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer((c) => {
      // The STARTTLS listener: two connections at once per address; the direct-TLS one: three
      // new connections a minute.
      c.listen[0]!.maxConnectionsPerIp = 2;
      c.listen[1]!.maxConnectionRatePerIp = 3;
    });
  });
  after(async () => t.stop());

  /** A connection that got as far as the stream features. */
  async function streamOpen(): Promise<RawClient> {
    const c = await RawClient.connect(t.port);
    c.header();
    await c.readUntil("</stream:features>");
    return c;
  }

  it("closes a connection at once while its address holds max_connections_per_ip, and takes one again after one ended", async () => {
    const a = await streamOpen();
    const b = await streamOpen();
    const c = await RawClient.connect(t.port);
    await c.closedPromise;
    assert.equal(c.received, "", "closed without a byte");
    const line = t.logs.find((l) => l.limit === "max_connections_per_ip");
    assert.equal(line?.ip, "127.0.0.1");
    a.end();
    await a.closedPromise;
    // The server hears of the close a moment later: retry until it has.
    let d: RawClient | null = null;
    for (let i = 0; i < 50 && !d; i++) {
      d = await streamOpen().catch(() => null);
    }
    assert.ok(d, "a new connection is taken once one ended");
    b.end();
    d.end();
  });

  it("refuses an address's new connections past max_connection_rate_per_ip in a minute, however few are open", async () => {
    const results: boolean[] = [];
    for (let i = 0; i < 5; i++) results.push(await tlsHandshake(t.tlsPort));
    assert.deepEqual(results, [true, true, true, false, false]);
    const line = t.logs.find((l) => l.limit === "max_connection_rate_per_ip");
    assert.equal(line?.ip, "127.0.0.1");
  });
});
