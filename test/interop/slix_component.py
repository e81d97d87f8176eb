"""An slixmpp external component (XEP-0114, ComponentXMPP) driven by a mocha test over JSON
lines (see jsonlines.py): an echo bot for a gateway domain.

    /usr/bin/python3 slix_component.py --port P --jid gateway.localhost --secret S

It connects to an ejabberd_service listener and completes slixmpp's own handshake. Messages with
a body are answered "echo: <body>" from the address they were sent to; IQs are answered by
slixmpp's plugins (xep_0030 disco#info with the identity gateway/xmpp, xep_0199 ping).

Events: session_start, message (from, to, body, type), stream_error, disconnected, error, and
the commands' answers. Commands: message (to, body, from), disco_info (to: an IQ get from the
component to `to`, answered by `disco_info` with type result and the features, or error with the
condition), quit.
"""

import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jsonlines import emit, serve  # noqa: E402

from slixmpp import ComponentXMPP  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402


class Component(ComponentXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.secret, "127.0.0.1", args.port)
        self.quitting = False
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        self["xep_0030"].add_identity(category="gateway", itype="xmpp", name="Echo gateway")
        self.add_event_handler("session_start", lambda _e: emit("session_start"))
        self.add_event_handler("message", self.on_message)
        self.add_event_handler(
            "stream_error", lambda e: emit("stream_error", condition=e["condition"])
        )
        self.add_event_handler("disconnected", lambda r: emit("disconnected", reason=r))

    def on_message(self, msg):
        emit(
            "message",
            body=msg["body"],
            type=msg["type"],
            **{"from": str(msg["from"]), "to": str(msg["to"])},
        )
        if msg["type"] != "error" and msg["body"]:
            msg.reply(f"echo: {msg['body']}").send()

    async def handle(self, cmd):
        if cmd["cmd"] == "message":
            self.send_message(
                mto=cmd["to"], mbody=cmd["body"], mfrom=cmd.get("from", self.boundjid.full)
            )
        elif cmd["cmd"] == "disco_info":
            try:
                info = await self["xep_0030"].get_info(
                    jid=cmd["to"], ifrom=self.boundjid.full, timeout=10
                )
            except IqError as e:
                emit("disco_info", type="error", condition=e.condition)
                return
            except IqTimeout:
                emit("disco_info", type="error", condition="timeout")
                return
            emit(
                "disco_info",
                type="result",
                **{"from": str(info["from"])},
                features=sorted(info["disco_info"]["features"]),
            )
        elif cmd["cmd"] == "quit":
            self.quitting = True
            self.disconnect()
        else:
            emit("error", condition="unknown command", cmd=cmd["cmd"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--deadline", type=float, default=30)
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(message)s")
    component = Component(args)

    async def run(cmd):
        try:
            await component.handle(cmd)
        except Exception as e:  # tell the test now, not by a timeout
            logging.exception("command %s failed", cmd)
            emit("error", cmd=cmd["cmd"], condition="exception", text=repr(e))

    serve(component, run, component.connect, args.deadline)


if __name__ == "__main__":
    main()
