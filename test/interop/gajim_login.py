"""Logs in the way Gajim 1.7 does, with nbxmpp, and reports every answer as a JSON line.

    /usr/bin/python3 gajim_login.py --port P --jid alice@localhost/gajim --password pw \
        --cafile server.pem [--direct-tls] [--deadline S]

Gajim's sequence (gajim/common/client.py, modules/discovery.py, roster.py, bookmarks.py ...):
nbxmpp negotiates TLS, SASL, bind and XEP-0198 (enable with resume); on "connected" Gajim asks
disco#info of the server and of the account's bare JID and disco#items of the server (then
disco#info of each item). The server's disco#info starts the rest: carbons are enabled when
advertised, the roster is requested with versioning; once the roster is in, initial presence
goes out and the bookmarks (XEP-0048 in private storage, as Gajim does without PEP
publish-options), roster notes (XEP-0145), the block list (XEP-0191) are requested, and the
archive is queried (XEP-0313). PEP bookmarks (XEP-0402, urn:xmpp:bookmarks:1) are asked too, so
that the test sees the server's answer either way.

Every answer becomes a `step` event: {name, type: result|error|malformed|timeout, condition,
error_type, data}. Then `done`, and the client closes its stream.
"""

import logging
import os
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jsonlines import client_args, emit  # noqa: E402
from nbxmpp_client import make_client, roster_item  # noqa: E402

from gi.repository import GLib  # noqa: E402
from nbxmpp.errors import MalformedStanzaError, StanzaError, TimeoutStanzaError  # noqa: E402
from nbxmpp.namespaces import Namespace  # noqa: E402
from nbxmpp.protocol import Iq, Node, Presence  # noqa: E402

TIMEOUT = 8  # seconds nbxmpp waits for each answer



class GajimLogin:
    def __init__(self, args, loop):
        self.loop = loop
        self.client = make_client(args)
        self.pending = set()
        self.roster_requested = False
        self.client.subscribe("connected", self.on_connected)
        self.client.subscribe("disconnected", self.on_disconnected)
        self.client.subscribe("connection-failed", self.on_disconnected)
        self.client.subscribe("stanza-received", self.on_nonza)

    def module(self, name):
        return self.client.get_module(name)

    # --- bookkeeping: every request is a named step that must get an answer

    def start(self, name):
        self.pending.add(name)

    def finish(self, name, **fields):
        emit("step", name=name, **fields)
        if name == "disco-info-server" and fields["type"] != "result":
            self.roster_requested = True  # Gajim goes no further without it
        self.pending.discard(name)
        if not self.pending and self.roster_requested:
            emit("done")
            self.client.disconnect()

    def task_done(self, task):
        """Callback of every nbxmpp task; the step name rides in the task's user data."""
        name = task.get_user_data()
        try:
            result = task.finish()
        except TimeoutStanzaError:
            self.finish(name, type="timeout")
            return
        except StanzaError as error:
            self.finish(name, type="error", condition=error.condition, error_type=error.type)
            return
        except MalformedStanzaError as error:
            self.finish(name, type="malformed", text=str(error), xml=str(error.stanza))
            return
        except Exception as error:  # a bug here or in nbxmpp: report it, don't hang
            self.finish(name, type="exception", text=repr(error))
            return
        follow = getattr(self, "after_" + name.replace("-", "_"), None)
        if follow is not None:
            # First, so that the requests it makes are pending before this step finishes: when
            # this answer is the last one in, the sequence is not over yet.
            follow(result)
        self.finish(name, type="result", data=describe(result))

    def request(self, name, method, *args, **kwargs):
        self.start(name)
        method(*args, timeout=TIMEOUT, callback=self.task_done, user_data=name, **kwargs)

    # --- the sequence

    def on_nonza(self, _client, _signal, data):
        if isinstance(data, Node) and data.getNamespace() == Namespace.STREAM_MGMT:
            if data.getName() == "enabled":
                emit("sm_enabled", id=data.getAttr("id"), resume=data.getAttr("resume"))

    def on_connected(self, *_):
        jid = self.client.get_bound_jid()
        emit("session_start", jid=str(jid), mechanism=self.client._sasl._mechanism.name)
        disco = self.module("Discovery")
        self.request("disco-info-server", disco.disco_info, jid.domain)
        self.request("disco-info-account", disco.disco_info, jid.bare)
        self.request("disco-items-server", disco.disco_items, jid.domain)

    def after_disco_items_server(self, items):
        for item in items.items:
            if item.node is None:  # Gajim asks only components, not nodes
                disco = self.module("Discovery")
                self.request(f"disco-info {item.jid}", disco.disco_info, item.jid)

    def after_disco_info_server(self, info):
        if Namespace.CARBONS in info.features:
            iq = Iq("set")
            iq.setTag("enable", namespace=Namespace.CARBONS)
            self.start("carbons-enable")
            self.client.send_stanza(iq, callback=self.on_iq_answer, timeout=TIMEOUT,
                                    user_data={"name": "carbons-enable"})
        self.blocking = Namespace.BLOCKING in info.features
        self.roster_requested = True
        # Gajim keeps the version of its stored roster; a new account has none yet: ver="".
        self.request("roster", self.module("Roster").request_roster, version=None)

    def after_roster(self, _roster):
        presence = Presence(priority=0)
        self.client.send_stanza(presence)
        self.request("bookmarks-private", self.module("PrivateBookmarks").request_bookmarks)
        self.request("annotations", self.module("Annotations").request_annotations)
        if self.blocking:
            self.request("blocklist", self.module("Blocking").request_blocking_list)
        # Gajim's first sign-in query: the last week of the account's archive, 70 at a time.
        self.request(
            "mam-query",
            self.module("MAM").make_query,
            self.client.get_bound_jid().bare,
            queryid="gajim-signin",
            start=datetime.now(timezone.utc) - timedelta(days=7),
            max_=70,
        )
        self.request("bookmarks-pep", self.module("NativeBookmarks").request_bookmarks)

    def on_iq_answer(self, _client, stanza, name):
        if stanza is None:
            self.finish(name, type="timeout")
            return
        if stanza.getType() == "error":
            self.finish(name, type="error", condition=stanza.getError(),
                        error_type=stanza.getErrorType())
        else:
            self.finish(name, type=stanza.getType())

    def on_disconnected(self, *_):
        domain, error, text = self.client.get_error()
        if self.pending or not self.roster_requested:
            emit("error", condition="disconnected", domain=str(domain), error=error, text=text,
                 pending=sorted(self.pending))
        self.loop.quit()


def describe(result):
    """The parts of a parsed answer the test asserts on, as JSON."""
    kind = type(result).__name__
    if kind == "DiscoInfo":
        return {
            "identities": [[i.category, i.type] for i in result.identities],
            "features": sorted(result.features),
            # What Gajim's upload reads from the service's XEP-0128 form (XEP-0363 §3).
            "httpupload_max_file_size": result.httpupload_max_file_size,
        }
    if kind == "DiscoItems":
        return {"items": [[str(i.jid), i.node] for i in result.items]}
    if kind == "RosterData":
        items = None if result.items is None else [roster_item(i) for i in result.items]
        return {"items": items, "ver": result.version}
    if kind == "MAMQueryData":
        return {"complete": result.complete}
    if isinstance(result, (list, set)):
        return {"count": len(result)}
    return {"repr": repr(result)}


def main():
    args = client_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    loop = GLib.MainLoop()
    login = GajimLogin(args, loop)

    def deadline():
        emit("error", condition="deadline", pending=sorted(login.pending))
        loop.quit()

    GLib.timeout_add(int(args.deadline * 1000), deadline)
    # The test going away (stdin closed) ends the process too.
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_HUP | GLib.IO_IN,
                      lambda fd, _c: (os.read(fd, 1024) and True) or loop.quit())
    login.client.connect()
    loop.run()


if __name__ == "__main__":
    main()
