"""slix_client.py's client plus ad-hoc commands (XEP-0050) and service administration
(XEP-0133) through slixmpp's xep_0050 and xep_0133 plugins.

    /usr/bin/python3 slix_adhoc.py (slix_client.py's arguments)

Commands (besides slix_client.py's):
  adhoc_list: the server's command list, through xep_0133's get_commands (disco#items of the
    node http://jabber.org/protocol/commands); answered by `adhoc_list` {items: [[node, name]]}.
  admin {name, values}: runs the XEP-0133 command `name` through xep_0133's method of that name
    (add_user for add-user …) the way a client's wizard does: xep_0050 executes it, the form
    the server returns is filled with `values` (field var → text, or a list for -multi fields)
    and submitted with the "complete" action; a command without a form completes at once.
    Answered by `admin` {type: result or error, condition, status, notes, fields (the result
    form's values)}.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from slix_client import Client, main  # noqa: E402


class AdhocClient(Client):
    def __init__(self, args):
        super().__init__(args)
        for plugin in ("xep_0004", "xep_0050", "xep_0133"):
            self.register_plugin(plugin)

    async def handle(self, cmd):
        if cmd["cmd"] == "adhoc_list":
            iq = await self["xep_0133"].get_commands(timeout=10)
            items = [[node, name] for (_jid, node, name) in iq["disco_items"]["items"]]
            self.out("adhoc_list", items=items)
        elif cmd["cmd"] == "admin":
            await self.admin(cmd["name"], cmd.get("values", {}))
        else:
            await super().handle(cmd)

    async def admin(self, name, values):
        done = asyncio.get_event_loop().create_future()

        def finish(iq, _session):
            if not done.done():
                done.set_result(iq)

        def fill(iq, session):
            if iq["type"] == "error" or iq["command"]["status"] != "executing":
                return finish(iq, session)
            form = iq["command"]["form"]
            form["type"] = "submit"
            form.set_values(values)
            session["payload"] = form
            session["next"] = finish
            self["xep_0050"].complete_command(session)

        getattr(self["xep_0133"], name.replace("-", "_"))(session={"next": fill, "error": finish})
        iq = await asyncio.wait_for(done, 10)
        command = iq["command"]
        fields = {}
        if iq["type"] == "result" and command.xml.find("{jabber:x:data}x") is not None:
            fields = command["form"].get_values()
        self.out(
            "admin",
            type=iq["type"],
            condition=iq["error"]["condition"] if iq["type"] == "error" else None,
            status=command["status"],
            notes=[text for (_type, text) in command["notes"]],
            fields=fields,
        )


if __name__ == "__main__":
    main(AdhocClient)
