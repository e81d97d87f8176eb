// ejabberd's api_permissions for parleyctl (ejabberd_ctl): a command runs only when an entry
// for the caller lists it and its `who` matches a local caller with no JID or address.
import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../../src/testkit/index.js";
import { sendControl } from "../../src/control/client.js";
import { parseConfig } from "../../src/config/config.js";
import { FILE } from "../helpers/config-text.js";

function permissions(text: string) {
  return parseConfig(`hosts: [localhost]\n${text}`, FILE).apiPermissions;
}

describe("api_permissions for parleyctl (ejabberd's ejabberd_ctl)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({});
  });
  after(async () => t?.stop());
  const run = (command: string, args: string[] = []) =>
    sendControl(t.config.controlSocket, command, args);

  it("gives parleyctl every command without api_permissions, as ejabberd's console commands", async () => {
    const res = await run("registered_users", ["localhost"]);
    assert.equal(res.ok, true);
  });

  it("runs what `what` lists and refuses what it takes out (!name), saying why", async () => {
    t.server.ctx.config.apiPermissions = permissions(
      [
        "api_permissions:",
        "  console commands:",
        "    from: ejabberd_ctl",
        "    who: all",
        "    what: ['*', '!register', '!unregister']",
      ].join("\n"),
    );
    assert.equal((await run("registered_users", ["localhost"])).ok, true);
    const refused = await run("register", ["mallory", "localhost", "pw-mallory-1"]);
    assert.equal(refused.ok, false);
    assert.match(
      String(refused.ok === false && refused.error),
      /not allowed for parleyctl by api_permissions/,
    );
    assert.equal(await t.server.ctx.accounts.exists("mallory", "localhost"), false);
    assert.ok(t.logs.some((l) => l.msg === "control command refused by api_permissions"));
  });

  it("refuses everything when the only entry for ejabberd_ctl wants users or addresses", async () => {
    t.server.ctx.config.apiPermissions = permissions(
      [
        "acl:",
        "  admin:",
        "    user: root@localhost",
        "api_permissions:",
        "  console commands:",
        "    from: [ejabberd_ctl]",
        "    who: admin",
        "    what: '*'",
        "  public commands:",
        "    who:",
        "      ip: 127.0.0.1/8",
        "    what: [status]",
      ].join("\n"),
    );
    assert.equal((await run("registered_users", ["localhost"])).ok, false);
    assert.equal((await run("status")).ok, false, "parleyctl has no address to match ip");
  });
});
