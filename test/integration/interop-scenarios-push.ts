/**
 * Interop scenarios: push notifications (XEP-0357) for a slixmpp client. Debian's slixmpp 1.8.3
 * has no xep_0357 plugin, so the `push` command of test/interop/slix_client.py builds <enable/>
 * and <disable/> itself; the stream, its XEP-0198 resumption and the link cut are slixmpp's. The
 * app server is another slixmpp client owning a node on the shipped config's pubsub.localhost,
 * subscribed through xep_0060: it reads the notification as slixmpp parses a pubsub event.
 */
import { strict as assert } from "node:assert";
import { xml } from "../helpers/client.js";
import { available, type ScenarioContext } from "../helpers/interop-launcher.js";
import type { PythonClient } from "../helpers/python-client.js";

const PUBSUB = "pubsub.localhost";

export function pushScenarios({ lib, server, launcher, u }: ScenarioContext): void {
  /** Sends a command answered by a `pep` event, and checks it succeeded. */
  async function pep(c: PythonClient, cmd: string, args: Record<string, unknown> = {}) {
    c.send({ cmd, ...args });
    const e = await c.next("pep", (ev) => ev.cmd === cmd);
    assert.equal(e.type, "result", `${cmd}: ${JSON.stringify(e)}`);
  }

  it("enables push with publish-options, is woken through the app server's node while its session waits for resumption, and disables it (§5, §6, §7)", async () => {
    const t = server();
    const node = `${lib.name}-phone-node`;
    // The app server: a node the user's server may publish to, and a subscription to it.
    const appServer = await launcher.start(u("push-app"));
    await pep(appServer, "pep_setup");
    await pep(appServer, "pep_create", {
      jid: PUBSUB,
      node,
      config: { "pubsub#publish_model": "open" },
    });
    // slixmpp subscribes its bare JID: notifications reach its available resources.
    await available(appServer, `${u("push-app")}@localhost/${lib.name}`);
    await pep(appServer, "pep_subscribe", { jid: PUBSUB, node });

    const user = u("push-phone");
    const full = `${user}@localhost/${lib.name}`;
    const phone = await launcher.start(user);
    await available(phone, full);
    await phone.next("sm_enabled", (e) => e.resume === true || e.resume === "true");
    // Nothing to disable yet: item-not-found, as slixmpp reads an IQ error.
    phone.send({ cmd: "push", action: "disable", jid: PUBSUB, node });
    const none = await phone.next("error", (e) => e.cmd === "push");
    assert.equal(none.condition, "item-not-found");
    // Publish-options the app server checks as preconditions with every publish (§5, §7).
    const options = { "pubsub#publish_model": "open" };
    phone.send({ cmd: "push", action: "enable", jid: PUBSUB, node, options });
    assert.equal((await phone.next("push")).type, "result");

    phone.send({ cmd: "cut" });
    await phone.next("disconnected");
    const sender = await t.client(u("push-sender"));
    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "wake up")));
    const event = await appServer.next("pubsub_event", (e) => e.node === node);
    const item = String((event.items as { xml: string }[])[0]?.xml);
    assert.match(item, /<notification xmlns="urn:xmpp:push:0">/);
    // The shipped config reveals neither the text nor the sender (§9).
    assert.match(item, /<value>New message<\/value>/);
    assert.doesNotMatch(item, /wake up|push-sender/);

    phone.send({ cmd: "reconnect" });
    await phone.next("resumed");
    await phone.next("message", (e) => e.body === "wake up");
    phone.send({ cmd: "push", action: "disable", jid: PUBSUB });
    assert.equal((await phone.next("push", (e) => e.action === "disable")).type, "result");
    const left = await t.server.ctx.stores.map("mod_push").all("localhost", user);
    assert.equal(left.size, 0);
  });
}
