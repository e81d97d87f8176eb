/** Interop scenarios: group chat on conference.localhost (XEP-0045). */
import { strict as assert } from "node:assert";
import { xml } from "../helpers/client.js";
import type { InteropServer } from "../helpers/interop-server.js";
import { record, type ScenarioContext } from "../helpers/interop-launcher.js";
import { instantRoom, MUC } from "../modules/mod_muc.helpers.js";

export function mucScenarios({ server, launcher, u }: ScenarioContext): void {
  let t: InteropServer;
  before(() => {
    t = server();
  });

  it("joins a room on conference.localhost: self-presence, history with delay, subject, live messages (XEP-0045 §7.2)", async () => {
    const owner = await t.client(u("muc-owner"));
    const room = `${u("room")}@${MUC}`;
    await instantRoom(owner, u("room"), "owner");
    await owner.send(
      xml("message", { to: room, type: "groupchat" }, xml("body", {}, "said before you came")),
    );
    await owner.next((el) => el.name === "message" && el.getChildText("body") !== null);

    const a = await launcher.start(u("muc-a"));
    a.send({ cmd: "join", room, nick: "visitor" });
    const self = await a.next("presence", (e) => e.from === `${room}/visitor`);
    assert.match(String(self.xml), /code="110"/);
    const history = await a.next("message", (e) => e.body === "said before you came");
    assert.equal(history.type, "groupchat");
    assert.equal(history.from, `${room}/owner`);
    assert.ok(history.delay, "history carries a delay stamp (§7.2.14, XEP-0203)");
    assert.equal(history.delay_from, room);
    const subject = await a.next("message", (e) => e.subject !== null);
    assert.equal(subject.from, room);
    assert.ok(
      a.events.indexOf(self) < a.events.indexOf(history) &&
        a.events.indexOf(history) < a.events.indexOf(subject),
      "self-presence, then history, then subject (§7.2.16)",
    );

    await owner.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "live")));
    const live = await a.next("message", (e) => e.body === "live");
    assert.equal(live.delay, null);
    a.send({ cmd: "message", to: room, type: "groupchat", body: "hi all", id: "g1" });
    const echoed = await owner.next(
      (el) => el.name === "message" && el.getChildText("body") === "hi all",
    );
    assert.equal(echoed.attrs.from, `${room}/visitor`);
    await a.next("message", (e) => e.body === "hi all" && e.from === `${room}/visitor`);
  });

  it("stays in a room through a cut link and resumption, and gets what was said meanwhile (XEP-0198 §5, XEP-0045 §7.4)", async () => {
    const owner = await t.client(u("muc-sm-owner"));
    const room = `${u("sm-room")}@${MUC}`;
    await instantRoom(owner, u("sm-room"), "owner");
    const ownerSaw = record(owner);
    const a = await launcher.start(u("muc-sm-a"));
    await a.next("sm_enabled");
    a.send({ cmd: "join", room, nick: "roamer" });
    await a.next("message", (e) => e.from === room && e.subject !== null);
    await owner.next((el) => el.name === "presence" && el.attrs.from === `${room}/roamer`);

    a.send({ cmd: "cut" });
    await a.next("disconnected");
    await owner.send(
      xml("message", { to: room, type: "groupchat" }, xml("body", {}, "while you were away")),
    );
    a.send({ cmd: "reconnect" });
    await a.next("resumed");
    const missed = await a.next("message", (e) => e.body === "while you were away");
    assert.equal(missed.from, `${room}/owner`);
    a.send({ cmd: "message", to: room, type: "groupchat", body: "still here" });
    await owner.next((el) => el.name === "message" && el.getChildText("body") === "still here");
    const left = ownerSaw.filter(
      (el) => el.name === "presence" && el.attrs.from === `${room}/roamer` && el.attrs.type,
    );
    assert.deepEqual(left, [], "the others never saw the roamer leave");
  });
}
