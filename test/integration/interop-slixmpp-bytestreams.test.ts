/**
 * File transfer between two slixmpp clients through Parley's SOCKS5 proxy (mod_proxy65,
 * XEP-0065), with slixmpp's own xep_0065 code on both ends: the sender finds the proxy in the
 * server's disco, offers it to the receiver, which connects to it; the sender connects, asks the
 * proxy to activate, and writes the file.
 */
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import { startInteropServer, type InteropServer } from "../helpers/interop-server.js";
import { Launcher } from "../helpers/interop-launcher.js";
import { SLIXMPP } from "./interop-slixmpp-library.js";

describe("interop: slixmpp file transfer through the SOCKS5 proxy (XEP-0065)", function () {
  this.timeout(30000);
  let t: InteropServer;
  const launcher = new Launcher({ ...SLIXMPP, script: "slix_bytestreams.py" }, () => t);

  before(async () => {
    t = await startInteropServer();
  });
  afterEach(async () => launcher.cleanup());
  after(async () => t?.stop());

  it("sends a file from one slixmpp client to another, relayed by proxy.localhost (§4, §6)", async () => {
    const receiver = await launcher.start("s5b-recv");
    const sender = await launcher.start("s5b-send");
    const file = randomBytes(200_000);
    sender.send({
      cmd: "s5b_send",
      to: "s5b-recv@localhost/slixmpp",
      data: file.toString("base64"),
    });
    const sent = await sender.next("s5b_sent");
    assert.equal(sent.type, "result", JSON.stringify(sent));
    const proxies = sent.proxies as Record<string, [string, number]>;
    assert.deepEqual(Object.keys(proxies), ["proxy.localhost"]);
    assert.equal(proxies["proxy.localhost"]![0], "127.0.0.1");
    const got = await receiver.next("s5b_received");
    assert.equal(got.size, file.length);
    assert.equal(got.sha256, createHash("sha256").update(file).digest("hex"), "byte for byte");
    assert.ok(
      t.logs.some((l) => l.msg === "bytestream activated"),
      "the bytes went through the proxy",
    );
  });
});
