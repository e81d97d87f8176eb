import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml } from "../helpers/client.js";
import { features } from "./disco.helpers.js";
import {
  NS_COMMANDS,
  actions,
  admins,
  ask,
  cmd,
  command,
  commandList,
  errors,
  field,
  nodeInfo,
  submit,
} from "./mod_adhoc.helpers.js";

// A third-party module (plain JavaScript, loaded by path) offering two commands through
// ctx.adhocCommand: a three-stage wizard for admins, and a one-step command for every local user.
const WIZARD_PLUGIN = `
export default {
  name: "mod_adhoc_wizard",
  description: "test commands",
  options: {},
  start(ctx) {
    const x = ctx.xml;
    const field = (name, required) =>
      x("field", { var: name, type: "text-single", label: name }, ...(required ? [x("required")] : []));
    const form = (title, ...fields) =>
      x("x", { xmlns: "jabber:x:data", type: "form" }, x("title", {}, title), ...fields);
    ctx.adhocCommand({
      node: "wizard",
      name: "Wizard",
      allowed: (jid) => ctx.allowed("configure", jid),
      stages: [
        { form: () => form("Name", field("name", true)) },
        { form: (run) => form("Colour for " + run.forms[0].values("name")[0], field("colour", false)) },
        { form: () => form("Confirm", field("confirm", true)) },
      ],
      complete: (run) => {
        if (run.forms[2].values("confirm")[0] === "fail") throw new ctx.StanzaError("conflict", "as asked");
        const summary = run.forms.map((f) => [...f.fields.values()].flat().join(",")).join("|");
        return {
          notes: [{ type: "info", text: "done" }],
          form: x("x", { xmlns: "jabber:x:data", type: "result" },
            x("field", { var: "summary" }, x("value", {}, summary))),
        };
      },
    });
    ctx.adhocCommand({
      node: "whoami",
      name: "Who am I",
      allowed: (jid) => ctx.allowed("local", jid),
      complete: (run) => ({ notes: [{ type: "info", text: run.from.toString() }] }),
    });
  },
};
`;

/** A server with the wizard plugin and mod_adhoc's `options`, boss its admin, for one describe. */
function serverWithWizard(options: Record<string, unknown>): () => TestServer {
  let t: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-adhoc-"));
    const path = join(dir, "wizard.js");
    writeFileSync(path, WIZARD_PLUGIN);
    t = await startTestServer({
      modules: { mod_disco: {}, mod_adhoc: options, mod_adhoc_wizard: { path } },
      config: admins("boss"),
    });
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => t;
}

describe("mod_adhoc (XEP-0050 ad-hoc commands)", () => {
  const server = serverWithWizard({ max_sessions: 3 });
  let t: TestServer;
  beforeEach(() => (t = server()));

  it("advertises the commands protocol on the server (§2.1)", async () => {
    const c = await t.client("alice");
    assert.ok((await features(c, "localhost")).includes(NS_COMMANDS));
  });

  it("lists to an admin every command, to a user only those the user may run (§2.2)", async () => {
    const boss = await t.client("boss");
    const alice = await t.client("alice");
    assert.deepEqual(
      [...(await commandList(boss))],
      [
        ["wizard", "Wizard"],
        ["whoami", "Who am I"],
      ],
    );
    assert.deepEqual([...(await commandList(alice))], [["whoami", "Who am I"]]);
  });

  it("describes the command list and a command's node, the latter only to those allowed (§2.3)", async () => {
    const boss = await t.client("boss");
    const alice = await t.client("alice");
    const list = await nodeInfo(alice, NS_COMMANDS);
    assert.equal(list.getChild("query")!.getChild("identity")!.attrs.type, "command-list");
    const info = await nodeInfo(boss, "wizard");
    const q = info.getChild("query")!;
    assert.deepEqual(q.getChild("identity")!.attrs, {
      category: "automation",
      type: "command-node",
      name: "Wizard",
    });
    assert.deepEqual(
      q.getChildren("feature").map((f) => f.attrs.var),
      [NS_COMMANDS, "jabber:x:data"],
    );
    assert.equal(errors(await nodeInfo(alice, "wizard")).condition, "item-not-found");
  });

  it("runs a one-step command at once: completed, with its notes (§2.4.1)", async () => {
    const alice = await t.client("alice", { resource: "phone" });
    const done = cmd(await command(alice, "whoami"));
    assert.equal(done.attrs.status, "completed");
    assert.equal(done.attrs.node, "whoami");
    assert.ok(done.attrs.sessionid);
    assert.equal(done.getChild("note")!.attrs.type, "info");
    assert.equal(done.getChildText("note"), "alice@localhost/phone");
  });

  it("walks a multi-stage command with next, prev and complete, and execute as the default (§2.4.2, §3.3)", async () => {
    const boss = await t.client("boss");
    const first = cmd(await command(boss, "wizard", { action: "execute" }));
    assert.equal(first.attrs.status, "executing");
    const sessionid = String(first.attrs.sessionid);
    assert.deepEqual(actions(first), { execute: "next", allowed: ["next"] });
    assert.equal(first.getChild("x")!.getChildText("title"), "Name");

    const go = async (action: string | undefined, form?: Record<string, string>) =>
      cmd(await command(boss, "wizard", { action, sessionid, form: form && submit(form) }));
    const second = await go("next", { name: "Ann" });
    assert.equal(second.attrs.sessionid, sessionid);
    assert.equal(second.getChild("x")!.getChildText("title"), "Colour for Ann");
    assert.deepEqual(actions(second), { execute: "next", allowed: ["prev", "next"] });

    const back = await go("prev");
    assert.equal(back.getChild("x")!.getChildText("title"), "Name");
    assert.deepEqual(actions(back), { execute: "next", allowed: ["next"] });

    // No action given: "execute", which the last <actions/> made "next".
    await go(undefined, { name: "Bea" });
    const third = await go("execute", { colour: "red" });
    assert.equal(third.getChild("x")!.getChildText("title"), "Confirm");
    assert.deepEqual(actions(third), { execute: "complete", allowed: ["prev", "complete"] });

    const done = await go("complete", { confirm: "yes" });
    assert.equal(done.attrs.status, "completed");
    assert.equal(done.getChildText("note"), "done");
    assert.deepEqual(field(done, "summary"), ["Bea|red|yes"]);
    assert.equal(done.getChild("actions"), undefined);
  });

  it("cancels a session; its id then gets session-expired (§2.4.3, §4.4)", async () => {
    const boss = await t.client("boss");
    const first = cmd(await command(boss, "wizard"));
    const sessionid = String(first.attrs.sessionid);
    const canceled = cmd(await command(boss, "wizard", { action: "cancel", sessionid }));
    assert.equal(canceled.attrs.status, "canceled");
    assert.equal(canceled.attrs.sessionid, sessionid);
    const again = await command(boss, "wizard", {
      action: "next",
      sessionid,
      form: submit({ name: "x" }),
    });
    assert.deepEqual(errors(again), { condition: "not-allowed", specific: "session-expired" });
  });

  it("refuses an unknown sessionid, and another requester's, with bad-sessionid (§3.2, §4.4)", async () => {
    const boss = await t.client("boss", { resource: "desk" });
    const bossPhone = await t.client("boss", { resource: "phone" });
    const unknown = await command(boss, "wizard", { action: "next", sessionid: "nope" });
    assert.deepEqual(errors(unknown), { condition: "bad-request", specific: "bad-sessionid" });
    const mine = cmd(await command(boss, "wizard"));
    const stolen = await command(bossPhone, "wizard", {
      action: "cancel",
      sessionid: String(mine.attrs.sessionid),
    });
    assert.deepEqual(errors(stolen), { condition: "bad-request", specific: "bad-sessionid" });
    const noSession = await command(boss, "wizard", { action: "next" });
    assert.deepEqual(errors(noSession), { condition: "bad-request", specific: "bad-sessionid" });
  });

  it("answers an unknown action malformed-action and one not offered bad-action, the session going on (§4.4)", async () => {
    const boss = await t.client("boss");
    const first = cmd(await command(boss, "wizard"));
    const sessionid = String(first.attrs.sessionid);
    const malformed = await command(boss, "wizard", { action: "jump", sessionid });
    assert.deepEqual(errors(malformed), { condition: "bad-request", specific: "malformed-action" });
    const prev = await command(boss, "wizard", { action: "prev", sessionid });
    assert.deepEqual(errors(prev), { condition: "bad-request", specific: "bad-action" });
    const early = await command(boss, "wizard", {
      action: "complete",
      sessionid,
      form: submit({ name: "x" }),
    });
    assert.deepEqual(errors(early), { condition: "bad-request", specific: "bad-action" });
    const next = cmd(
      await command(boss, "wizard", { action: "next", sessionid, form: submit({ name: "Cy" }) }),
    );
    assert.equal(next.getChild("x")!.getChildText("title"), "Colour for Cy");
  });

  it("answers a missing form or required field bad-payload, and takes the corrected form (§4.4)", async () => {
    const boss = await t.client("boss");
    const sessionid = String(cmd(await command(boss, "wizard")).attrs.sessionid);
    const bare = await command(boss, "wizard", { action: "next", sessionid });
    assert.deepEqual(errors(bare), { condition: "bad-request", specific: "bad-payload" });
    const empty = await command(boss, "wizard", {
      action: "next",
      sessionid,
      form: submit({ name: "" }),
    });
    assert.deepEqual(errors(empty), { condition: "bad-request", specific: "bad-payload" });
    const ok = cmd(
      await command(boss, "wizard", { action: "next", sessionid, form: submit({ name: "Di" }) }),
    );
    assert.equal(ok.attrs.status, "executing");
  });

  it("ends a session whose command fails, with the command's error", async () => {
    const boss = await t.client("boss");
    const sessionid = String(cmd(await command(boss, "wizard")).attrs.sessionid);
    for (const form of [{ name: "E" }, { colour: "" }] as Record<string, string>[]) {
      cmd(await command(boss, "wizard", { action: "next", sessionid, form: submit(form) }));
    }
    const failed = await command(boss, "wizard", {
      action: "complete",
      sessionid,
      form: submit({ confirm: "fail" }),
    });
    assert.equal(errors(failed).condition, "conflict");
    const after = await command(boss, "wizard", { action: "cancel", sessionid });
    assert.deepEqual(errors(after), { condition: "not-allowed", specific: "session-expired" });
  });

  it("answers an unknown node item-not-found and a command not for the requester forbidden (§4.4)", async () => {
    const alice = await t.client("alice");
    assert.equal(errors(await command(alice, "no-such-command")).condition, "item-not-found");
    assert.equal(errors(await command(alice, "wizard")).condition, "forbidden");
  });

  it("leaves other nodes' items unknown (XEP-0030 §7)", async () => {
    const alice = await t.client("alice");
    const res = await ask(
      alice,
      "get",
      xml("query", { xmlns: "http://jabber.org/protocol/disco#items", node: "nobody-answers" }),
    );
    assert.equal(errors(res).condition, "item-not-found");
  });

  it("limits the sessions one requester has open (max_sessions)", async () => {
    const boss = await t.client("boss", { resource: "busy" });
    for (let i = 0; i < 3; i++) cmd(await command(boss, "wizard"));
    const over = await command(boss, "wizard");
    assert.equal(errors(over).condition, "not-allowed");
  });
});

describe("mod_adhoc: session_timeout (XEP-0050 §3.2)", () => {
  const server = serverWithWizard({ session_timeout: 0.2 });

  it("expires a session the requester left waiting: session-expired", async () => {
    const boss = await server().client("boss");
    const sessionid = String(cmd(await command(boss, "wizard")).attrs.sessionid);
    await new Promise((r) => setTimeout(r, 400));
    const late = await command(boss, "wizard", {
      action: "next",
      sessionid,
      form: submit({ name: "late" }),
    });
    assert.deepEqual(errors(late), { condition: "not-allowed", specific: "session-expired" });
  });
});
