// ejabberd's force_node_config on Parley's pubsub: the options an admin forces on nodes by name
// pattern hold whatever the owner asks, at creation, in publish-options and in a configuration
// form (ejabberd's own example keeps bookmarks private).
import { strict as assert } from "node:assert";
import { startTestServer, xml, type TestServer } from "../../src/testkit/index.js";
import { bare, fresh, ready, subscribe } from "./mod_roster.helpers.js";
import {
  form,
  iq,
  items,
  itemsOf,
  NS_OWNER,
  publish,
  pubsubCondition,
} from "./mod_pubsub.helpers.js";

const BOOKMARKS = "storage:bookmarks";
const OMEMO = "eu.siacs.conversations.axolotl.bundles:1";
const storage = () => xml("storage", { xmlns: "storage:bookmarks" });

describe("mod_pubsub force_node_config (ejabberd's)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_roster: {},
        mod_pubsub: {
          force_node_config: {
            "eu.siacs.conversations.axolotl.*": { access_model: "open" },
            [BOOKMARKS]: { access_model: "whitelist", max_items: 1 },
          },
        },
      },
    });
  });
  after(async () => t.stop());

  it("a node created with other options gets the forced ones: a contact cannot read bookmarks (closed-node)", async () => {
    const a = await ready(t, fresh("owner"));
    const b = await ready(t, fresh("contact"));
    await subscribe(b, a);
    await subscribe(a, b);
    // No publish-options: PEP's default would be presence access, readable by the contact.
    assert.equal((await publish(a, BOOKMARKS, storage())).attrs.type, "result");
    const no = await items(b, bare(a), BOOKMARKS);
    assert.equal(pubsubCondition(no), "closed-node");
    assert.equal(itemsOf(await items(a, bare(a), BOOKMARKS)).length, 1);

    // The glob: an OMEMO bundle node is open to strangers, as forced.
    assert.equal(
      (await publish(a, OMEMO, xml("bundle", { xmlns: "eu.siacs.conversations.axolotl" }))).attrs
        .type,
      "result",
    );
    const stranger = await t.client(fresh("stranger"));
    assert.equal(itemsOf(await items(stranger, bare(a), OMEMO)).length, 1);
    await Promise.all([a.stop(), b.stop(), stranger.stop()]);
  });

  it("publish-options and the owner's configuration form cannot undo it", async () => {
    const a = await ready(t, fresh("owner2"));
    const open = { "pubsub#access_model": "open" };
    const created = await publish(a, BOOKMARKS, storage(), { options: open });
    assert.equal(created.attrs.type, "result", "the node is created, forced to whitelist");
    // The node is whitelist now: asking for open again is an unmet precondition.
    const again = await publish(a, BOOKMARKS, storage(), { options: open });
    assert.equal(pubsubCondition(again), "precondition-not-met");
    const set = await iq(
      a,
      "set",
      xml(
        "pubsub",
        { xmlns: NS_OWNER },
        xml(
          "configure",
          { node: BOOKMARKS },
          form("http://jabber.org/protocol/pubsub#node_config", open),
        ),
      ),
      bare(a),
    );
    assert.equal(set.attrs.type, "result");
    const shown = await iq(
      a,
      "get",
      xml("pubsub", { xmlns: NS_OWNER }, xml("configure", { node: BOOKMARKS })),
      bare(a),
    );
    const model = shown
      .getChild("pubsub", NS_OWNER)
      ?.getChild("configure")
      ?.getChild("x", "jabber:x:data")
      ?.getChildren("field")
      .find((f) => f.attrs.var === "pubsub#access_model")
      ?.getChildText("value");
    assert.equal(model, "whitelist");
    await a.stop();
  });
});
