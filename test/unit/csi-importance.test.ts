// What mod_client_state holds back from an inactive client (XEP-0352 §3.2) and what goes out at
// once, stanza by stanza: null means "send now", a key means "hold, replacing the one held under
// that key", an empty object "hold as it is".
import { strict as assert } from "node:assert";
import { parse } from "ltx";
import type { Element } from "@xmpp/xml";
import { holdFor, type QueueOptions } from "../../modules/mod_client_state/importance.js";

const ALL: QueueOptions = { presence: true, chatStates: true, pep: true };
const NONE: QueueOptions = { presence: false, chatStates: false, pep: false };
const ME = "alice@localhost/phone";

const stanza = (text: string): Element =>
  parse(text.replace(/^<(\w+)/, `<$1 xmlns='jabber:client'`)) as unknown as Element;
const verdict = (text: string, q: QueueOptions = ALL) => holdFor(stanza(text), q);

describe("mod_client_state: what an inactive client can wait for", () => {
  it("holds availability presence under its sender's full JID; subscription requests and errors go out", () => {
    const from = "bob@localhost/desk";
    assert.deepEqual(verdict(`<presence from='${from}' to='${ME}'><show>away</show></presence>`), {
      key: `presence ${from}`,
    });
    assert.deepEqual(verdict(`<presence type='unavailable' from='${from}' to='${ME}'/>`), {
      key: `presence ${from}`,
    });
    for (const type of ["subscribe", "subscribed", "unsubscribe", "unsubscribed", "error"]) {
      assert.equal(verdict(`<presence type='${type}' from='bob@localhost' to='${ME}'/>`), null);
    }
    assert.equal(verdict(`<presence from='${from}' to='${ME}'/>`, NONE), null);
  });

  it("sends a room's presence about the user's own occupant (XEP-0045 status 110) and holds the others'", () => {
    const muc = (code: string) =>
      `<presence from='room@conf.localhost/me' to='${ME}'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/><status code='${code}'/></x></presence>`;
    assert.equal(verdict(muc("110")), null);
    assert.deepEqual(verdict(muc("100")), { key: "presence room@conf.localhost/me" });
  });

  it("sends IQs, errors, MAM results and messages a person reads (body, subject, encrypted, invitations, calls)", () => {
    const m = (inner: string, attrs = "") =>
      `<message from='bob@localhost/desk' to='${ME}' ${attrs}>${inner}</message>`;
    assert.equal(verdict(`<iq type='get' id='1' from='bob@localhost/desk' to='${ME}'/>`), null);
    assert.equal(verdict(`<iq type='result' id='2' from='localhost' to='${ME}'/>`), null);
    for (const text of [
      m("<body>hi</body>", "type='chat'"),
      m("<body>all</body>", "type='groupchat'"),
      m("<subject>Topic</subject>", "type='groupchat'"),
      m("<error type='cancel'/>", "type='error'"),
      m("<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/></encrypted>"),
      m("<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/></encrypted>"),
      m("<openpgp xmlns='urn:xmpp:openpgp:0'>AAA</openpgp>"),
      m("<x xmlns='jabber:x:encrypted'>AAA</x>"),
      m("<propose xmlns='urn:xmpp:jingle-message:0' id='c1'/>"),
      m("<x xmlns='jabber:x:conference' jid='room@conf.localhost'/>"),
      m("<x xmlns='http://jabber.org/protocol/muc#user'><invite from='bob@localhost'/></x>"),
      m("<result xmlns='urn:xmpp:mam:2' queryid='q' id='1'/>"),
    ]) {
      assert.equal(verdict(text, ALL), null, text);
    }
  });

  it("holds standalone chat states under the conversation, and one with more than a chat state as it is (XEP-0085 §5.6)", () => {
    const cs = (extra = "") =>
      `<message type='chat' from='bob@localhost/desk' to='${ME}'><composing xmlns='http://jabber.org/protocol/chatstates'/>${extra}</message>`;
    const key = { key: "chatstate bob@localhost/desk alice@localhost" };
    assert.deepEqual(verdict(cs()), key);
    assert.deepEqual(verdict(cs("<thread>t1</thread><no-store xmlns='urn:xmpp:hints'/>")), key);
    assert.deepEqual(verdict(cs("<received xmlns='urn:xmpp:receipts' id='m1'/>")), {});
    assert.equal(verdict(cs(), NONE), null);
  });

  it("judges a carbon copy by the message it carries (XEP-0280)", () => {
    const carbon = (kind: string, inner: string) =>
      `<message from='alice@localhost' to='${ME}' type='chat'><${kind} xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@localhost/desk' to='bob@localhost/desk' type='chat'>${inner}</message></forwarded></${kind}></message>`;
    assert.equal(verdict(carbon("sent", "<body>hi</body>")), null);
    assert.equal(verdict(carbon("received", "<body>hi</body>")), null);
    assert.deepEqual(
      verdict(carbon("sent", "<paused xmlns='http://jabber.org/protocol/chatstates'/>")),
      { key: "chatstate alice@localhost/desk bob@localhost" },
    );
    assert.deepEqual(
      verdict(carbon("sent", "<displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/>")),
      {},
    );
  });

  it("holds PEP notifications, the latest per node; retractions and other pubsub events as they are", () => {
    const event = (from: string, items: string) =>
      `<message from='${from}' to='${ME}' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:avatar:metadata'>${items}</items></event></message>`;
    assert.deepEqual(verdict(event("bob@localhost", "<item id='a'/>")), {
      key: "pep bob@localhost urn:xmpp:avatar:metadata",
    });
    assert.deepEqual(verdict(event("bob@localhost", "<retract id='a'/>")), {});
    assert.deepEqual(verdict(event("pubsub.localhost", "<item id='a'/>")), {});
    assert.equal(verdict(event("bob@localhost", "<item id='a'/>"), NONE), null);
  });

  it("holds the rest as it is: receipts, markers, headlines without a body", () => {
    for (const inner of [
      "<received xmlns='urn:xmpp:receipts' id='m1'/>",
      "<displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/>",
      "<reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>+1</reaction></reactions>",
    ]) {
      assert.deepEqual(
        verdict(`<message from='bob@localhost/desk' to='${ME}'>${inner}</message>`, NONE),
        {},
      );
    }
  });
});
