import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import { startTestServer, xml, type TestClient, type TestServer } from "../../src/testkit/index.js";
import type { SqlConfig } from "../../src/config/types.js";
import { freshPgsql, sqlYaml } from "../helpers/storage.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function parleyctl(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/parleyctl.ts", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A config naming `sql`'s PostgreSQL database. */
function pgYaml(sql: SqlConfig): string {
  return ["hosts: [localhost]", "loglevel: warning", ...sqlYaml(sql), ""].join("\n");
}

const MODULES = {
  mod_offline: {},
  mod_vcard: {},
  mod_private: {},
  mod_roster: {},
  mod_muc: { default_room_options: { persistent: true } },
};
const ROSTER = "jabber:iq:roster";
let seq = 0;

async function iq(c: TestClient, type: "get" | "set", payload: Element): Promise<Element> {
  const id = `x${++seq}`;
  await c.send(xml("iq", { type, id }, payload));
  const res = await c.next((el) => el.attrs.id === id);
  assert.equal(res.attrs.type, "result", res.toString());
  return res;
}

describe("parleyctl export2sql: a SQLite server's data moves to PostgreSQL, nothing lost", function () {
  this.timeout(120_000);
  let dir: string;
  const servers: TestServer[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-export-"));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("copies accounts, queued messages, vCards, private XML, rosters and rooms; the PostgreSQL server serves them", async () => {
    const old = await startTestServer({ storage: "sqlite", modules: MODULES });
    servers.push(old);
    await old.register("bob", "bob's password");
    const alice = await old.client("alice");
    await iq(alice, "set", xml("vCard", { xmlns: "vcard-temp" }, xml("FN", {}, "Alice A.")));
    await iq(
      alice,
      "set",
      xml("query", { xmlns: "jabber:iq:private" }, xml("n", { xmlns: "urn:test:n" }, "kept")),
    );
    // A roster item with groups, and a subscription request bob has not answered (RFC 6121 §3.1).
    await iq(
      alice,
      "set",
      xml(
        "query",
        { xmlns: ROSTER },
        xml(
          "item",
          { jid: "bob@localhost", name: "Bobby" },
          xml("group", {}, "Friends"),
          xml("group", {}, "Work"),
        ),
      ),
    );
    await alice.send(xml("presence", { to: "bob@localhost", type: "subscribe" }));
    // A room, persistent from its creation (default_room_options), still locked (XEP-0045 §10.1.1).
    const room = "den@conference.localhost";
    await alice.send(
      xml(
        "presence",
        { to: `${room}/alice` },
        xml("x", { xmlns: "http://jabber.org/protocol/muc" }),
      ),
    );
    await alice.next((el) => el.is("presence") && el.attrs.from === `${room}/alice`);
    for (const body of ["first", "second"]) {
      await alice.send(
        xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, body)),
      );
    }
    for (let i = 0; i < 100; i++) {
      if ((await old.server.ctx.stores.offline.count("localhost", "bob")) === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await old.server.stop();

    const source = join(dir, "sqlite.yml");
    writeFileSync(
      source,
      `hosts: [localhost]\nloglevel: warning\ndata_dir: ${old.config.dataDir}\nsql_database: ${old.config.sqlDatabase}\n`,
    );
    const sql = await freshPgsql("export");
    const target = join(dir, "pgsql.yml");
    writeFileSync(target, pgYaml(sql));

    const run = await parleyctl(["--config", source, "export2sql", target]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^users: 2$/m);
    assert.match(run.stdout, /^offline_messages: 2$/m);
    assert.match(run.stdout, /^copied \d+ rows in \d+ tables$/m);

    // A second run would duplicate: refused, and the database is as the first run left it.
    const again = await parleyctl(["--config", source, "export2sql", target]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds data: export2sql copies into an empty database/);

    const moved = await startTestServer({ storage: async () => sql, modules: MODULES });
    servers.push(moved);
    const bob = await moved.client("bob", { password: "bob's password" });
    const request = bob.next((el) => el.is("presence") && el.attrs.type === "subscribe");
    const isChat = (el: Element): boolean => el.is("message") && el.getChild("body") !== undefined;
    const first = bob.next(isChat);
    await bob.send(xml("presence"));
    const m1 = await first;
    const m2 = await bob.next(isChat);
    const got = [m1, m2].map((m) => m.getChildText("body"));
    assert.deepEqual(got, ["first", "second"]);
    assert.equal((await request).attrs.from, "alice@localhost");

    const alice2 = await moved.client("alice");
    const card = await iq(alice2, "get", xml("vCard", { xmlns: "vcard-temp" }));
    assert.equal(card.getChild("vCard")?.getChildText("FN"), "Alice A.");
    const priv = await iq(
      alice2,
      "get",
      xml("query", { xmlns: "jabber:iq:private" }, xml("n", { xmlns: "urn:test:n" })),
    );
    assert.equal(priv.getChild("query")?.getChildText("n"), "kept");
    const roster = await iq(alice2, "get", xml("query", { xmlns: ROSTER }));
    const item = roster.getChild("query")!.getChild("item")!;
    assert.equal(item.attrs.jid, "bob@localhost");
    assert.equal(item.attrs.name, "Bobby");
    assert.equal(item.attrs.ask, "subscribe");
    assert.deepEqual(
      item.getChildren("group").map((g) => g.getText()),
      ["Friends", "Work"],
    );
    const rooms = await moved.server.ctx.stores.muc.load("conference.localhost");
    assert.deepEqual(
      rooms.map((r) => r.name),
      ["den"],
    );
    assert.deepEqual(
      rooms[0]!.affiliations.map((a) => [a.jid, a.affiliation]),
      [["alice@localhost", "owner"]],
    );
  });

  it("refuses while the SQLite server runs, and a target that is not PostgreSQL", async () => {
    const live = await startTestServer({ storage: "sqlite", modules: MODULES });
    servers.push(live);
    const source = join(dir, "live.yml");
    writeFileSync(
      source,
      `hosts: [localhost]\nloglevel: warning\ndata_dir: ${live.config.dataDir}\nsql_database: ${live.config.sqlDatabase}\n`,
    );
    const target = join(dir, "pgsql-live.yml");
    writeFileSync(target, pgYaml(await freshPgsql("export")));
    const running = await parleyctl(["--config", source, "export2sql", target]);
    assert.equal(running.code, 1);
    assert.match(running.stderr, /is running: stop it first/);

    const notPg = await parleyctl(["--config", source, "export2sql", source]);
    assert.equal(notPg.code, 2);
    assert.match(notPg.stderr, /needs sql_type: pgsql/);
  });
});
