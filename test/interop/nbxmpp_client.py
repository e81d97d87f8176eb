"""An nbxmpp client (Gajim's XMPP library) driven by a mocha test over JSON lines (jsonlines.py).

    /usr/bin/python3 nbxmpp_client.py --port P --jid bob@localhost/res --password pw \
        --cafile server.pem [--direct-tls] [--deadline S]

It logs in with the SASL mechanism nbxmpp picks and accepts the server's self-signed
certificate as Gajim does once the user clicked "accept" (the certificate is in the accepted
list; other errors would still fail). Stream management is enabled with resumption as nbxmpp
always does.

Events: session_start, sm_enabled, sm_failed, resumed, resume_failed, message, presence,
roster, roster_push, iq, service, muc, stream_error, error, disconnected, connection_failed.
Each carries `handled`, the XEP-0198 count of stanzas received.

Commands: roster_get, roster_set, roster_remove, subscribe, approve, presence, presence_to,
message, join, carbons, service (ping, version, time, last, vcard_get, vcard_set, password,
block, unblock, blocklist, through nbxmpp's modules), muc_info, muc_configure, muc_affiliation
(through nbxmpp's MUC module, as Gajim uses it), cut (drop the link as Gajim does when a ping
times out), reconnect (resume), quit. PEP as Gajim does it, each answered by a `pep` event
(result with data, or error with condition and app_condition): pep_nick (the Nickname module,
public or presence-only), pep_item (PubSub.request_item), pep_bookmarks_store and
pep_bookmarks_get (NativeBookmarks, XEP-0402).
"""

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jsonlines import CommandReader, client_args, emit  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402
from nbxmpp.client import Client  # noqa: E402
from nbxmpp.const import ConnectionProtocol, ConnectionType  # noqa: E402
from nbxmpp.namespaces import Namespace  # noqa: E402
from nbxmpp.protocol import JID, Iq, Message, Node, Presence  # noqa: E402
from nbxmpp.modules.vcard_temp import VCard  # noqa: E402
from nbxmpp.structs import BookmarkData, StanzaHandler  # noqa: E402



def make_client(args):
    """An nbxmpp Client set up the way Gajim sets one up for an account with a custom host."""
    jid = JID.from_string(args.jid)
    client = Client(log_context=str(jid))
    client.set_domain(jid.domain)
    client.set_username(jid.localpart)
    client.set_resource(jid.resource)
    client.set_password(args.password)
    kind = ConnectionType.DIRECT_TLS if args.direct_tls else ConnectionType.START_TLS
    client.set_custom_host(f"127.0.0.1:{args.port}", ConnectionProtocol.TCP, kind)
    client.set_accepted_certificates([Gio.TlsCertificate.new_from_file(args.cafile)])
    return client


class Puppet:
    def __init__(self, args, loop):
        self.args = args
        self.loop = loop
        self.quitting = False
        self.client = make_client(args)
        c = self.client
        c.subscribe("connected", self.on_connected)
        c.subscribe("resume-successful", self.on_resumed)
        c.subscribe("resume-failed", lambda *_: self.out("resume_failed"))
        c.subscribe("disconnected", self.on_disconnected)
        c.subscribe("connection-failed", self.on_connection_failed)
        c.subscribe("stanza-received", self.on_nonza)
        c.register_handler(StanzaHandler(name="message", callback=self.on_message))
        c.register_handler(StanzaHandler(name="presence", callback=self.on_presence))
        c.register_handler(
            StanzaHandler(
                name="iq", callback=self.on_roster_push, typ="set", ns=Namespace.ROSTER, priority=20
            )
        )

    def out(self, event, **fields):
        smacks = self.client._smacks  # nbxmpp keeps the XEP-0198 counters here
        emit(event, handled=smacks._in_h if smacks else None, **fields)

    # --- library signals

    def on_connected(self, *_):
        self.out(
            "session_start",
            jid=str(self.client.get_bound_jid()),
            mechanism=self.client._sasl._mechanism.name,
        )

    def on_resumed(self, *_):
        self.out("resumed", jid=str(self.client.get_bound_jid()))

    def on_nonza(self, _client, _signal, data):
        if isinstance(data, Node) and data.getNamespace() == Namespace.STREAM_MGMT:
            if data.getName() == "enabled":
                self.out("sm_enabled", id=data.getAttr("id"), resume=data.getAttr("resume"))
            elif data.getName() == "failed":
                self.out("sm_failed", xml=str(data))

    def on_disconnected(self, *_):
        domain, error, text = self.client.get_error()
        if domain is not None and str(domain) == "StreamError.STREAM" and error != "stream-end":
            self.out("stream_error", condition=error, text=text)
        self.out("disconnected", domain=str(domain), error=error, text=text)
        if domain is not None and "SASL" in str(domain):
            emit("failed_auth", error=error, text=text)
            self.quitting = True
        if self.quitting:
            self.loop.quit()

    def on_connection_failed(self, *_):
        domain, error, text = self.client.get_error()
        self.out("connection_failed", domain=str(domain), error=error, text=text)
        self.loop.quit()

    # --- stanzas

    def on_message(self, _client, stanza, properties):
        delay = stanza.getTag("delay", namespace=Namespace.DELAY2)
        subject = stanza.getTag("subject")
        self.out(
            "message",
            id=stanza.getID(),
            type=stanza.getType() or "normal",
            to=str(stanza.getTo()),
            body=stanza.getBody(),
            subject=subject.getData() if subject is not None else None,
            delay=delay.getAttr("stamp") if delay is not None else None,
            delay_from=delay.getAttr("from") if delay is not None else None,
            carbon=getattr(properties.carbon, "type", None) if properties.carbon else None,
            xml=str(stanza),
            **{"from": str(stanza.getFrom())},
        )

    def on_presence(self, _client, stanza, _properties):
        self.out(
            "presence",
            type=stanza.getType() or "available",
            xml=str(stanza),
            **{"from": str(stanza.getFrom())},
        )

    def on_roster_push(self, _client, stanza, properties):
        if properties.roster is not None:  # nbxmpp's Roster module parsed and answered it
            item = properties.roster.item
            self.out(
                "roster_push",
                ver=properties.roster.version,
                items=[roster_item(item)],
            )

    # --- commands

    def handle(self, cmd):
        name = cmd["cmd"]
        c = self.client
        if name == "roster_get":
            c.get_module("Roster").request_roster(
                version=cmd.get("ver"), callback=self.on_roster_result
            )
        elif name == "roster_set":
            c.get_module("Roster").set_item(
                cmd["jid"],
                cmd.get("name"),
                cmd.get("groups"),
                callback=self.on_task_done,
                user_data="roster_set",
            )
        elif name == "roster_remove":  # RFC 6121 §2.5
            c.get_module("Roster").delete_item(
                cmd["jid"], callback=self.on_task_done, user_data="roster_remove"
            )
        elif name == "subscribe":
            c.send_stanza(Presence(to=cmd["jid"], typ="subscribe"))
        elif name == "approve":
            c.send_stanza(Presence(to=cmd["jid"], typ="subscribed"))
        elif name == "presence":
            c.send_stanza(Presence())
        elif name == "message":
            msg = Message(to=cmd["to"], body=cmd["body"], typ=cmd.get("type", "chat"))
            if "id" in cmd:
                msg.setID(cmd["id"])
            c.send_stanza(msg)
        elif name == "join":
            # Presence to room/nick with the MUC <x/>: Gajim sends <history maxchars="0"/> when
            # joining (it reads history from MAM) and no <history/> when creating a room.
            pres = Presence(to=f"{cmd['room']}/{cmd['nick']}")
            muc = pres.setTag("x", namespace=Namespace.MUC)
            if cmd.get("history", {"maxstanzas": "20"}) is not None:
                muc.setTag("history", attrs=cmd.get("history", {"maxstanzas": "20"}))
            c.send_stanza(pres)
        elif name == "presence_to":  # nick change (XEP-0045 §7.6), leaving (§7.14)
            c.send_stanza(Presence(to=cmd["to"], typ=cmd.get("type")))
        elif name == "muc_info":  # what Gajim asks before joining and after configuring
            c.get_module("MUC").request_info(
                cmd["room"], timeout=10, callback=self.on_muc_done, user_data="muc_info"
            )
        elif name == "muc_configure":
            c.get_module("MUC").request_config(
                cmd["room"], timeout=10, callback=self.on_muc_config, user_data=cmd["config"]
            )
        elif name == "muc_affiliation":
            c.get_module("MUC").set_affiliation(
                cmd["room"],
                {cmd["jid"]: {"affiliation": cmd["affiliation"]}},
                timeout=10,
                callback=self.on_muc_done,
                user_data="muc_affiliation",
            )
        elif name == "carbons":  # as Gajim enables them (XEP-0280 §4)
            iq = Iq("set")
            iq.setTag("enable", namespace=Namespace.CARBONS)
            c.send_stanza(iq, callback=self.on_iq_answer, timeout=10, user_data={"tag": "carbons"})
        elif name == "service":
            self.service(cmd["what"], cmd.get("jid"), cmd)
        elif name == "cut":
            c.disconnect(immediate=True)
        elif name == "reconnect":
            c.connect()
        elif name == "quit":
            self.quitting = True
            c.disconnect()
        elif name.startswith("pep_"):  # PEP through nbxmpp's modules, as Gajim calls them
            self.pep(name, cmd)
        else:
            raise ValueError(f"unknown command {name}")

    def on_roster_result(self, task):
        try:
            data = task.finish()
        except Exception as error:  # nbxmpp raises StanzaError with the condition
            self.out("error", cmd="roster_get", condition=getattr(error, "condition", str(error)))
            return
        items = [roster_item(i) for i in data.items] if data.items is not None else None
        self.out("roster", items=items, ver=data.version)

    def service(self, what, jid, cmd):
        """A query through the nbxmpp module for it, so that nbxmpp parses the answer."""
        as_jids = [JID.from_string(jid)] if jid else None
        calls = {
            "ping": ("Ping", "ping", jid),  # XEP-0199
            "version": ("SoftwareVersion", "request_software_version", jid),  # XEP-0092
            "time": ("EntityTime", "request_entity_time", jid),  # XEP-0202
            "last": ("LastActivity", "request_last_activity", jid),  # XEP-0012
            "vcard_get": ("VCardTemp", "request_vcard", jid),  # XEP-0054
            "vcard_set": ("VCardTemp", "set_vcard", VCard({"FN": cmd.get("fn")})),
            "password": ("Register", "change_password", cmd.get("password")),  # XEP-0077 §3.3
            "block": ("Blocking", "block", as_jids),  # XEP-0191
            "unblock": ("Blocking", "unblock", as_jids),
            "blocklist": ("Blocking", "request_blocking_list"),
        }
        module, method, *args = calls[what]
        call = getattr(self.client.get_module(module), method)
        call(*args, timeout=10, callback=self.on_service_done, user_data=what)

    def on_service_done(self, task):
        what = task.get_user_data()
        try:
            result = task.finish()
        except Exception as error:  # StanzaError has the condition; Malformed* says what broke
            self.out(
                "service",
                what=what,
                type="error" if hasattr(error, "condition") else "malformed",
                condition=getattr(error, "condition", None),
                text=str(error),
            )
            return
        self.out("service", what=what, type="result", data=service_data(result))

    def on_muc_config(self, task):
        """Gajim's room creation: take the owner form, set its defaults, submit it whole."""
        config = task.get_user_data()
        try:
            result = task.finish()
        except Exception as error:
            self.out("muc", what="muc_config_get", type="error", text=str(error),
                     condition=getattr(error, "condition", None))
            return
        form = result.form
        self.out("muc", what="muc_config_get", type="result", data={"fields": form_fields(form)})
        for var, value in config.items():  # Gajim's _apply_config: only fields the form has
            try:
                form[var].value = value
            except KeyError:
                pass
        self.client.get_module("MUC").set_config(
            result.jid, form, timeout=10, callback=self.on_muc_done, user_data="muc_config_set"
        )

    def on_muc_done(self, task):
        what = task.get_user_data()
        try:
            result = task.finish()
        except Exception as error:
            self.out("muc", what=what, type="error" if hasattr(error, "condition") else "malformed",
                     condition=getattr(error, "condition", None), text=str(error))
            return
        data = None
        info = getattr(result, "info", None)
        if info is not None:  # MucInfoResult
            data = {
                "identities": [[i.category, i.type] for i in info.identities],
                "features": sorted(info.features),
                "forms": [form_fields(f) for f in info.dataforms],
                "muc_name": info.muc_name,
            }
        self.out("muc", what=what, type="result", data=data)

    # --- PEP (XEP-0163) through nbxmpp's modules -------------------------------------------------

    def pep(self, name, cmd):
        c = self.client
        done = {"callback": self.on_pep_done, "user_data": name}
        if name == "pep_nick":  # Gajim's nickname: publish-options, reconfigured when unmet
            public = cmd.get("public", False)
            c.get_module("Nickname").set_nickname(cmd["nick"], public=public, **done)
        elif name == "pep_item":  # what Gajim's nickname and avatar readers ask
            c.get_module("PubSub").request_item(cmd["node"], cmd["id"], jid=cmd.get("jid"), **done)
        elif name == "pep_bookmarks_store":  # XEP-0402 as Gajim stores a room it joined
            bookmark = BookmarkData(
                jid=JID.from_string(cmd["room"]),
                name=cmd.get("name"),
                nick=cmd.get("nick"),
                autojoin=cmd.get("autojoin", False),
            )
            c.get_module("NativeBookmarks").store_bookmarks([bookmark], **done)
        elif name == "pep_bookmarks_get":
            c.get_module("NativeBookmarks").request_bookmarks(**done)
        else:
            raise ValueError(f"unknown command {name}")

    def on_pep_done(self, task):
        name = task.get_user_data()
        try:
            result = task.finish()
        except Exception as error:  # PubSubStanzaError has both conditions
            self.out(
                "pep",
                cmd=name,
                type="error" if hasattr(error, "condition") else "malformed",
                condition=getattr(error, "condition", None),
                app_condition=getattr(error, "app_condition", None),
                text=str(error),
            )
            return
        if isinstance(result, list):  # bookmarks
            data = [
                {"jid": str(b.jid), "name": b.name, "nick": b.nick, "autojoin": b.autojoin}
                for b in result
            ]
        elif isinstance(result, Node):  # an <item/>
            data = {"id": result.getAttr("id"), "xml": str(result)}
        else:
            data = None
        self.out("pep", cmd=name, type="result", data=data)

    # --- end of PEP ------------------------------------------------------------------------------

    def on_task_done(self, task):
        # nbxmpp holds task callbacks weakly: they must be bound methods of a living object.
        cmd = task.get_user_data()
        try:
            task.finish()
            self.out("iq", tag=cmd, type="result")
        except Exception as error:
            self.out("error", cmd=cmd, condition=getattr(error, "condition", str(error)))

    def on_iq_answer(self, _client, stanza, tag):
        if stanza is None:
            self.out("iq", tag=tag, type="timeout")
            return
        error = stanza.getTag("error")
        condition = None
        if error is not None:
            kids = [k for k in error.getChildren() if k.getNamespace() == Namespace.STANZAS]
            condition = next((k.getName() for k in kids if k.getName() != "text"), None)
        self.out(
            "iq",
            tag=tag,
            type=stanza.getType(),
            condition=condition,
            error_type=error.getAttr("type") if error is not None else None,
            xml=str(stanza),
            **{"from": str(stanza.getFrom())},
        )


def form_fields(form):
    """A data form as {var: value or values} (XEP-0004), hidden FORM_TYPE included."""
    fields = {}
    for f in form.iter_fields():
        if not f.var:
            continue
        fields[f.var] = sorted(f.values) if hasattr(f, "values") else f.value
    return fields


def service_data(result):
    """The parts of a parsed answer the tests look at."""
    if result is None or isinstance(result, (str, int)):
        return {"value": result}
    if isinstance(result, VCard):
        return {"fn": result.data.get("FN")}
    if isinstance(result, (set, list)):
        return {"items": sorted(str(j) for j in result)}
    if hasattr(result, "_asdict"):
        return {k: v for k, v in result._asdict().items() if isinstance(v, (str, int, type(None)))}
    return {"repr": repr(result)}


def roster_item(item):
    return {
        "jid": str(item.jid),
        "name": item.name,
        "subscription": item.subscription,
        "ask": item.ask,
        "groups": sorted(item.groups or []),
    }


def main():
    args = client_args()
    # nbxmpp logs the XML both ways at INFO; it goes to stderr, which the test shows on failure.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    loop = GLib.MainLoop()
    puppet = Puppet(args, loop)
    reader = CommandReader()

    def on_stdin(fd, _condition):
        data = os.read(fd, 65536)
        if not data:  # the test is gone: leave at once
            loop.quit()
            return False
        for cmd in reader.feed(data):
            try:
                puppet.handle(cmd)
            except Exception as error:  # report it to the test instead of dying silently
                puppet.out("error", cmd=cmd.get("cmd"), condition="exception", text=repr(error))
        return True

    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP, on_stdin)

    def deadline():
        emit("error", condition="deadline", text=f"still running after {args.deadline}s")
        loop.quit()

    GLib.timeout_add(int(args.deadline * 1000), deadline)
    puppet.client.connect()
    loop.run()


if __name__ == "__main__":
    main()
