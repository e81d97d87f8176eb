"""An slixmpp client driven by a mocha test over JSON lines (see jsonlines.py).

    /usr/bin/python3 slix_client.py --port P --jid alice@localhost/res --password pw \
        --cafile server.pem [--host ADDRESS] [--no-check-hostname] [--direct-tls] \
        [--sm-id ID --sm-handled H] [--deadline S]

The client logs in with whatever SASL mechanism slixmpp picks, trusting the server's self-signed
certificate the way a user who accepted it would (it becomes the only trusted certificate; the
host name is still checked). With --sm-id it resumes that XEP-0198 session instead of binding.

Events: session_start, sm_enabled, csi_enabled (XEP-0352 offered), resumed, sm_failed, failed_auth, message,
message_error (an error message, a bounce: its condition), moderated (a room's
XEP-0425 announcement), config_status (a room's status codes, XEP-0045 §10.2.1), presence,
roster, roster_push, joined, iq, caps, mam, service, stream_error, error, disconnected. Every
event carries
`handled`, the XEP-0198 count of stanzas received so far, so a test that kills this process
knows the h to resume with.

Commands: roster_get, roster_set, roster_remove, subscribe, approve, presence, message, join,
muc_instant (XEP-0045 §10.1.2: the owner of a new room accepts its default configuration),
csi (`state` active or inactive, through xep_0352), push (XEP-0357 `action` enable or disable
with `jid`, `node`, publish-`options`: built here, slixmpp 1.8.3 has no xep_0357), carbons, caps (announce XEP-0115 caps through xep_0115), mam (XEP-0313 through xep_0313: every page of a query on the user's archive, or on
the one `jid` names, a room's), service (ping, version, time, last, vcard_get, vcard_set,
avatar_set, bookmarks_set and bookmarks_get (XEP-0048 with `method` xep_0049 or xep_0223),
disco_info, password, block, unblock, blocklist, through slixmpp's plugins),
avatars (registers xep_0153, XEP-0153 vCard avatars, which is left off otherwise because it
adds to every presence the client sends), retract (XEP-0424 through
xep_0424), moderate (XEP-0425 through xep_0425), cut (drop the TCP link
without closing the stream), reconnect, quit, upload (XEP-0363 through xep_0363's upload_file:
an `upload` event with the GET url, or the error), download (an HTTP GET of a shared file's URL:
a `download` event with status, type, size and sha256).

PEP and pubsub (XEP-0060, XEP-0163) through slixmpp's plugins, each answered by a `pep` event
(type result with data, or error with condition, pubsub_condition as slixmpp reads it and
app_condition as sent): pep_setup (loads xep_0060/xep_0163, so caps, plus the `plugins` given,
e.g. xep_0084, xep_0172, whose +notify wishes go into the caps), pep_publish (with
publish-options), pep_items, pep_retract, pep_create, pep_delete, pep_subscribe, pep_avatar
(XEP-0084 data and metadata), pep_nick (XEP-0172). After pep_setup, notifications come as
`pubsub_event` (node, items with id and payload xml, retracted ids, delay).
"""

import asyncio
import base64
import hashlib
import logging
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jsonlines import client_args, emit, serve  # noqa: E402

import slixmpp  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout, PresenceError  # noqa: E402
from slixmpp.xmlstream import ET, tostring  # noqa: E402



class Client(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.quitting = False
        self.ssl_context = ssl.create_default_context(cafile=args.cafile)
        # A federation run's user of a domain whose certificate names another on purpose.
        self.ssl_context.check_hostname = not args.no_check_hostname
        plugins = ("xep_0012", "xep_0030", "xep_0045", "xep_0054", "xep_0077", "xep_0092")
        plugins += ("xep_0191",)
        plugins += ("xep_0352",)  # XEP-0352: takes the server's <csi/>; the csi command speaks
        plugins += ("xep_0313", "xep_0359", "xep_0424", "xep_0425")
        for plugin in plugins + ("xep_0198", "xep_0199", "xep_0202", "xep_0203", "xep_0280"):
            self.register_plugin(plugin)
        sm = self["xep_0198"]
        if args.sm_id:
            sm.sm_id = args.sm_id
            sm.handled = args.sm_handled
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("sm_enabled", self.on_sm_enabled)
        self.add_event_handler("session_resumed", self.on_resumed)
        self.add_event_handler("sm_failed", lambda s: self.out("sm_failed", xml=str(s)))
        self.add_event_handler("csi_enabled", lambda _features: self.out("csi_enabled"))
        self.add_event_handler("message", self.on_message)
        # Bounces (RFC 6120 §8.3), with or without the body (one with it is a "message" too).
        self.add_event_handler(
            "message_error",
            lambda m: self.out(
                "message_error",
                id=m["id"],
                condition=m["error"]["condition"],
                text=m["error"]["text"] or None,
                xml=str(m),
                **{"from": str(m["from"])},
            ),
        )
        # XEP-0425 as slixmpp reads a room's announcement (its handler takes the message).
        self.add_event_handler(
            "moderated_message",
            lambda m: self.out(
                "moderated",
                id=m["apply_to"]["id"],
                by=str(m["apply_to"]["moderated"]["by"]),
                reason=m["apply_to"]["moderated"]["reason"],
                **{"from": str(m["from"])},
            ),
        )
        # A carbon copy (XEP-0280) comes as the forwarded message, like nbxmpp unwraps it.
        self.add_event_handler(
            "carbon_received", lambda m: self.on_message(m["carbon_received"], "received")
        )
        self.add_event_handler("carbon_sent", lambda m: self.on_message(m["carbon_sent"], "sent"))
        self.add_event_handler(
            "groupchat_config_status",
            lambda m: self.out(
                "config_status",
                codes=sorted(m["muc"]["status_codes"]),
                **{"from": str(m["from"])},
            ),
        )
        # "message" is only raised for messages with a <body/>; a room's subject has none.
        self.add_event_handler("groupchat_subject", self.on_subject)
        self.add_event_handler("presence", self.on_presence)
        # Once in a room, slixmpp stops raising "presence" for it and raises this instead.
        self.add_event_handler("groupchat_presence", self.on_room_presence)
        self.add_event_handler("roster_update", self.on_roster_push)
        self.add_event_handler("disconnected", lambda r: self.out("disconnected", reason=r))
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler(
            "stream_error", lambda e: self.out("stream_error", condition=e["condition"])
        )
        # The library would answer subscription requests itself (False means "refuse"); None
        # leaves them to the test.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.pubsub_handlers = False  # pep_setup adds them

    def start(self):
        self.connect((self.args.host, self.args.port), use_ssl=self.args.direct_tls)

    def out(self, event, **fields):
        emit(event, handled=self["xep_0198"].handled, **fields)

    def on_session_start(self, _event):
        mech = self["feature_mechanisms"].mech
        gs2 = getattr(mech, "gs2_header", None)  # SCRAM's "p=tls-unique,," names the binding
        self.out(
            "session_start",
            jid=str(self.boundjid),
            mechanism=mech.name,
            gs2_header=gs2.decode() if gs2 else None,
        )

    def on_failed_auth(self, stanza):
        self.out("failed_auth", xml=str(stanza))
        self.quitting = True
        self.disconnect()

    def on_connection_failed(self, error):
        # slixmpp would retry for ever; a test wants to hear it once.
        self.out("connection_failed", text=str(error))
        self.quitting = True
        self.abort()

    def on_sm_enabled(self, stanza):
        self.out("sm_enabled", id=stanza["id"], resume=stanza["resume"])

    def on_resumed(self, stanza):
        self.out("resumed", h=stanza["h"], jid=str(self.boundjid))

    def on_message(self, msg, carbon=None):
        delay = msg.get_plugin("delay", check=True)
        self.out(
            "message",
            id=msg["id"],
            type=msg["type"],
            to=str(msg["to"]),
            body=msg["body"],
            subject=msg["subject"] if msg.xml.find("{jabber:client}subject") is not None else None,
            delay=delay["stamp"].isoformat() if delay is not None else None,
            delay_from=str(delay["from"]) if delay is not None else None,
            stanza_id=stanza_id(msg),
            carbon=carbon,
            xml=str(msg),
            **{"from": str(msg["from"])},
        )

    def on_subject(self, msg):
        if not msg["body"]:
            self.on_message(msg)

    def on_presence(self, pres):
        if pres.xml.find("{http://jabber.org/protocol/muc#user}x") is None:
            self.on_room_presence(pres)

    def on_room_presence(self, pres):
        self.out(
            "presence",
            type=pres["type"],
            xml=str(pres),
            **{"from": str(pres["from"])},
        )

    def on_roster_push(self, iq):
        if iq["type"] == "set":
            self.out("roster_push", items=roster_items(iq), ver=iq["roster"]["ver"])

    async def handle(self, cmd):
        name = cmd["cmd"]
        if name == "roster_get":
            # What get_roster() does, minus its callback wrapper, so that the test sees whether
            # the answer had a <query/> (slixmpp's stanza objects create one when read).
            if "ver" in cmd:
                self.client_roster.version = cmd["ver"]
            iq = self.Iq(stype="get")
            iq.enable("roster")
            if "rosterver" in self.features:  # slixmpp sends the version it holds (RFC 6121 §2.6)
                iq["roster"]["ver"] = self.client_roster.version
            iq = await iq.send(timeout=10)
            has_query = iq.xml.find("{jabber:iq:roster}query") is not None
            self.event("roster_update", iq)
            self.out(
                "roster",
                items=roster_items(iq) if has_query else None,
                ver=iq["roster"]["ver"] if has_query else None,
            )
        elif name == "roster_set":
            iq = self.Iq(stype="set")
            iq["roster"]["items"] = {
                cmd["jid"]: {"name": cmd.get("name", ""), "groups": cmd.get("groups", [])}
            }
            await iq.send(timeout=10)
            self.out("iq", tag="roster_set", type="result")
        elif name == "roster_remove":  # RFC 6121 §2.5
            iq = self.Iq(stype="set")
            iq["roster"]["items"] = {cmd["jid"]: {"subscription": "remove"}}
            await iq.send(timeout=10)
            self.out("iq", tag="roster_remove", type="result")
        elif name == "subscribe":
            self.send_presence_subscription(pto=cmd["jid"], ptype="subscribe")
        elif name == "approve":
            self.send_presence(pto=cmd["jid"], ptype="subscribed")
        elif name == "presence":
            self.send_presence()
        elif name == "message":
            msg = self.make_message(mto=cmd["to"], mbody=cmd["body"], mtype=cmd.get("type", "chat"))
            if "id" in cmd:
                msg["id"] = cmd["id"]
            msg.send()
        elif name == "join":
            pres, subject, occupants, history = await self["xep_0045"].join_muc_wait(
                cmd["room"],
                cmd["nick"],
                maxstanzas=cmd.get("history", 20),
                timeout=cmd.get("timeout", 10),  # a room on another server: its link first
            )
            self.out(
                "joined",
                room=cmd["room"],
                nick=pres["from"].resource,
                subject=subject["subject"],
                occupants=[str(p["from"]) for p in occupants],
                history=[m["body"] for m in history],
                history_stanza_ids=[stanza_id(m) for m in history],
                status_codes=sorted(pres["muc"]["status_codes"]),
            )
        elif name == "muc_instant":  # XEP-0045 §10.1.2: accept the defaults of a new room
            form = self["xep_0004"].make_form(ftype="submit")
            await self["xep_0045"].set_room_config(slixmpp.JID(cmd["room"]), form, timeout=10)
            self.out("iq", tag="muc_instant", type="result")
        elif name == "caps":
            # XEP-0115 through xep_0115: slixmpp hashes its own disco#info, answers disco#info
            # at node#ver, and puts its <c/> in every presence from now on.
            self.register_plugin("xep_0115")
            await self["xep_0115"].update_caps(broadcast=False)
            ver = await self["xep_0115"].get_verstring()
            self.send_presence()
            self.out("caps", node=self["xep_0115"].caps_node, ver=ver)
        elif name == "csi":  # XEP-0352 through xep_0352: <active/> or <inactive/>, no answer
            csi = self["xep_0352"]
            (csi.send_active if cmd["state"] == "active" else csi.send_inactive)()
            self.out("csi", state=cmd["state"], enabled=csi.enabled)
        elif name == "push":  # XEP-0357 §5/§6 (Debian's slixmpp 1.8.3 has no xep_0357 plugin)
            iq = self.Iq(stype="set")
            el = ET.Element(f"{{{NS_PUSH}}}{cmd['action']}", {"jid": cmd["jid"]})
            if cmd.get("node"):
                el.set("node", cmd["node"])
            if cmd.get("options"):
                el.append(self.publish_options(cmd["options"]).xml)
            iq.append(el)
            await iq.send(timeout=10)
            self.out("push", action=cmd["action"], type="result")
        elif name == "carbons":
            await self["xep_0280"].enable(timeout=10)
            self.out("iq", tag="carbons", type="result")
        elif name == "mam":
            await self.mam(cmd)
        elif name == "retract":  # XEP-0424 as slixmpp 1.8 speaks it (0.3, <apply-to/>)
            self["xep_0424"].send_retraction(
                mto=slixmpp.JID(cmd["to"]), id=cmd["id"], mtype=cmd.get("type", "chat")
            )
        elif name == "moderate":  # XEP-0425 as slixmpp 1.8 speaks it (0.2, <apply-to/>)
            await self["xep_0425"].moderate(
                slixmpp.JID(cmd["room"]), cmd["id"], cmd.get("reason", ""), timeout=10
            )
            self.out("iq", tag="moderate", type="result")
        elif name == "service":
            await self.service(cmd["what"], cmd.get("jid"), cmd)
        elif name == "avatars":
            self.register_plugin("xep_0153")
            self.out("iq", tag="avatars", type="result")
        elif name == "cut":
            # The link drops: no </stream:stream>, no TLS close_notify, just a closed socket.
            self.transport.abort()
        elif name == "reconnect":
            self.start()
        elif name == "quit":
            self.quitting = True
            self.disconnect()
        elif name.startswith("pep_"):  # PEP and pubsub through slixmpp's plugins (below)
            await self.pep(name, cmd)
        elif name == "upload":
            await self.upload(cmd)
        elif name == "download":
            await self.download(cmd)
        else:
            raise ValueError(f"unknown command {name}")

    async def service(self, what, jid, cmd):
        """A query through the slixmpp plugin for it, so that slixmpp parses the answer."""
        try:
            data = {}
            if what == "ping":  # XEP-0199
                await self["xep_0199"].send_ping(jid, timeout=10)
            elif what == "version":  # XEP-0092
                v = (await self["xep_0092"].get_version(jid, timeout=10))["software_version"]
                data = {"name": v["name"], "version": v["version"], "os": v["os"] or None}
            elif what == "time":  # XEP-0202
                t = (await self["xep_0202"].get_entity_time(jid, timeout=10))["entity_time"]
                # slixmpp 1.8.3 cannot parse a conformant answer (XEP-0202 §3): t["utc"] adds
                # a second "Z" to <utc>...Z</utc>, t["tzo"] parses "+00:00" as a date-time.
                # Read the texts instead.
                data = {k: t.xml.findtext("{urn:xmpp:time}" + k) for k in ("utc", "tzo")}
            elif what == "last":  # XEP-0012
                iq = await self["xep_0012"].get_last_activity(jid, timeout=10)
                data = {"seconds": iq["last_activity"]["seconds"]}
            elif what == "vcard_get":  # XEP-0054, asked of the server (a bare JID)
                iq = await self["xep_0054"].get_vcard(jid or self.boundjid.bare, timeout=10)
                binval = iq["vcard_temp"]["PHOTO"]["BINVAL"]  # decoded by slixmpp
                data = {
                    "fn": iq["vcard_temp"]["FN"] or None,
                    "photo_sha1": hashlib.sha1(binval).hexdigest() if binval else None,
                }
            elif what == "vcard_set":
                vcard = self["xep_0054"].make_vcard()
                vcard["FN"] = cmd["fn"]
                await self["xep_0054"].publish_vcard(vcard, jid=jid, timeout=10)
            elif what == "avatar_set":  # XEP-0153 §3.1, to `jid` (a room's, XEP-0486 §3.2)
                await self["xep_0153"].set_avatar(
                    jid=slixmpp.JID(jid),
                    avatar=base64.b64decode(cmd["photo"]),
                    mtype=cmd["type"],
                    timeout=10,
                )
            elif what == "bookmarks_set":  # XEP-0048, in private storage or PEP (XEP-0223)
                self.register_plugin("xep_0048")
                bookmarks = self["xep_0048"].stanza.Bookmarks()
                for c in cmd["conferences"]:
                    bookmarks.add_conference(
                        c["jid"], c.get("nick"), c.get("name"), c.get("autojoin")
                    )
                await self["xep_0048"].set_bookmarks(bookmarks, method=cmd["method"], timeout=10)
            elif what == "bookmarks_get":
                self.register_plugin("xep_0048")
                iq = await self["xep_0048"].get_bookmarks(method=cmd["method"], timeout=10)
                if cmd["method"] == "xep_0223":
                    bookmarks = iq["pubsub"]["items"]["item"]["bookmarks"]
                else:
                    bookmarks = iq["private"]["bookmarks"]
                data = {
                    "conferences": [
                        {
                            "jid": str(c["jid"]),
                            "name": c["name"],
                            "nick": c["nick"],
                            "autojoin": c["autojoin"],
                        }
                        for c in bookmarks["conferences"]
                    ]
                }
            elif what == "disco_info":  # XEP-0030, with the XEP-0128 form fields by var
                iq = await self["xep_0030"].get_info(jid, timeout=10)
                fields = {}
                for f in iq.xml.iter("{jabber:x:data}field"):
                    values = [v.text or "" for v in f.findall("{jabber:x:data}value")]
                    fields[f.get("var")] = values
                data = {"features": sorted(iq["disco_info"]["features"]), "fields": fields}
            elif what == "password":  # XEP-0077 §3.3
                await self["xep_0077"].change_password(cmd["password"], timeout=10)
            elif what == "block":  # XEP-0191
                await self["xep_0191"].block(jid, timeout=10)
            elif what == "unblock":
                await self["xep_0191"].unblock(jid, timeout=10)
            elif what == "blocklist":
                iq = await self["xep_0191"].get_blocked(timeout=10)
                data = {"items": sorted(str(j) for j in iq["blocklist"]["items"])}
            else:
                raise ValueError(f"unknown service {what}")
        except IqError as e:
            self.out("service", what=what, type="error", condition=e.condition)
            return
        self.out("service", what=what, type="result", data=data)

    async def mam(self, cmd):
        """Pages through an archive (the user's, or a room's: `jid`) with slixmpp's RSM iterator
        (XEP-0313 §4.3)."""
        pages = []
        iterator = self["xep_0313"].retrieve(
            jid=slixmpp.JID(cmd["jid"]) if cmd.get("jid") else None,
            with_jid=slixmpp.JID(cmd["with"]) if cmd.get("with") else None,
            iterator=True,
            reverse=cmd.get("reverse", False),
            rsm={"max": cmd.get("max", 10)},
        )
        while len(pages) <= 50:  # a server that never ends the result set
            # slixmpp 1.8.3's RSM iterator stops paging backward after the first page when the
            # server gives <first index/> (its first+n == count test only holds going forward),
            # so it is kept going here until the server says complete, as a client would.
            iterator._stop = False
            try:
                page = await iterator.next()
            except StopAsyncIteration:
                break
            results = list(page["mam"]["results"])
            if cmd.get("reverse"):
                results.reverse()  # newest first, as slixmpp's iterate() hands them out
            fin = page.xml.find("{urn:xmpp:mam:2}fin")
            pages.append(
                {
                    "bodies": [m["mam_result"]["forwarded"]["stanza"]["body"] for m in results],
                    "ids": [m["mam_result"]["id"] for m in results],
                    "froms": [str(m["mam_result"]["forwarded"]["stanza"]["from"]) for m in results],
                    "complete": fin.get("complete") if fin is not None else None,
                }
            )
            if pages[-1]["complete"] == "true":
                break
        self.out("mam", pages=pages)

    # --- PEP and pubsub (XEP-0060, XEP-0163) through slixmpp's own plugins ---------------------

    def on_pubsub_event(self, msg, kind):
        """A notification as slixmpp parsed it (xep_0060). slixmpp raises pubsub_publish once per
        item with the whole message when a notification holds several: reported once."""
        if kind != "delete" and msg is self.last_pubsub_event:
            return
        self.last_pubsub_event = msg
        event = msg["pubsub_event"]
        delay = msg.get_plugin("delay", check=True)
        fields = {"node": event["delete"]["node"]} if kind == "delete" else {}
        if kind != "delete":
            entries = list(event["items"])
            fields = {
                "node": event["items"]["node"],
                "items": [pubsub_item(i) for i in entries if i.name == "item"],
                "retracted": [i["id"] for i in entries if i.name == "retract"],
            }
        self.out(
            "pubsub_event",
            kind=kind,
            type=msg["type"],
            delay=delay["stamp"].isoformat() if delay is not None else None,
            xml=str(msg),
            **{"from": str(msg["from"])},
            **fields,
        )

    async def pep(self, name, cmd):
        """One pubsub command, answered by a `pep` event: type result (with data) or error (with
        the defined condition and the pubsub#errors one, as slixmpp reads it and as sent)."""
        try:
            data = await self.pep_command(name, cmd)
        except IqError as e:
            app = e.iq.xml.find("{jabber:client}error")
            raw = [c.tag.split("}", 1)[1] for c in app if PUBSUB_ERRORS in c.tag]
            self.out(
                "pep",
                cmd=name,
                type="error",
                condition=e.condition,
                pubsub_condition=e.iq["error"]["pubsub"]["condition"] or None,
                app_condition=raw[0] if raw else None,
                xml=str(e.iq),
            )
            return
        self.out("pep", cmd=name, type="result", data=data)

    async def pep_command(self, name, cmd):
        ps = self["xep_0060"] if name != "pep_setup" else None
        jid = slixmpp.JID(cmd["jid"]) if cmd.get("jid") else None  # None: the own account
        node = cmd.get("node")
        if name == "pep_setup":
            # Registered on demand, so that only the clients a test asks for announce caps
            # (xep_0115, which xep_0163 needs) and +notify interests (xep_0084, xep_0172 ...).
            for plugin in ["xep_0060", "xep_0163"] + cmd.get("plugins", []):
                self.register_plugin(plugin)
            if not self.pubsub_handlers:
                self.pubsub_handlers = True
                self.last_pubsub_event = None
                for kind in ("publish", "retract", "delete"):
                    self.add_event_handler(
                        f"pubsub_{kind}", lambda m, k=kind: self.on_pubsub_event(m, k)
                    )
            for ns in cmd.get("interests", []):  # XEP-0163 §4.3 via slixmpp's add_interest
                self["xep_0163"].add_interest(ns)
            # What add_interest/register_pep start in the background, done before presence goes.
            await self["xep_0115"].update_caps(broadcast=False)
            info = await self["xep_0030"].get_info(jid=None, node=None, local=True)
            features = (info["disco_info"] if isinstance(info, slixmpp.Iq) else info)["features"]
            return {
                "ver": await self["xep_0115"].get_verstring(),
                "notify": sorted(f for f in features if f.endswith("+notify")),
            }
        if name == "pep_publish":  # XEP-0060 §7.1, publish-options §7.1.5
            payload = ET.fromstring(cmd["payload"]) if cmd.get("payload") else None
            iq = await ps.publish(
                jid,
                node,
                id=cmd.get("id"),
                payload=payload,
                options=self.publish_options(cmd.get("options")),
                timeout=10,
            )
            return {"id": iq["pubsub"]["publish"]["item"]["id"] or None}
        if name == "pep_items":  # §6.5
            iq = await ps.get_items(
                jid, node, item_ids=cmd.get("ids"), max_items=cmd.get("max"), timeout=10
            )
            return {"items": [pubsub_item(i) for i in iq["pubsub"]["items"]]}
        if name == "pep_retract":  # §7.2
            await ps.retract(jid, node, cmd["id"], notify=cmd.get("notify"), timeout=10)
        elif name == "pep_create":  # §8.1
            config = self.data_form(cmd.get("config")) if cmd.get("config") else None
            await ps.create_node(jid, node, config=config, timeout=10)
        elif name == "pep_delete":  # §8.4
            await ps.delete_node(jid, node, timeout=10)
        elif name == "pep_subscribe":  # §6.1
            iq = await ps.subscribe(jid, node, timeout=10)
            return {"subscription": iq["pubsub"]["subscription"]["subscription"]}
        elif name == "pep_avatar":  # XEP-0084 §4.1-§4.2: data first, then metadata
            data = cmd["data"].encode()
            avatar = self["xep_0084"]
            await avatar.publish_avatar(data, timeout=10)
            info = {"id": avatar.generate_id(data), "type": cmd["mime"], "bytes": len(data)}
            await avatar.publish_avatar_metadata(info, timeout=10)
            return {"id": info["id"]}
        elif name == "pep_nick":  # XEP-0172 §4
            await self["xep_0172"].publish_nick(cmd["nick"], timeout=10)
        else:
            raise ValueError(f"unknown command {name}")
        return {}

    def publish_options(self, options):
        if not options:
            return None
        return self.data_form({"FORM_TYPE": PUBLISH_OPTIONS, **options})

    def data_form(self, fields):
        form = self["xep_0004"].make_form(ftype="submit")
        for var, value in fields.items():
            form.add_field(var=var, ftype="hidden" if var == "FORM_TYPE" else None, value=value)
        return form

    # --- end of PEP and pubsub ------------------------------------------------------------------

    async def upload(self, cmd):
        """XEP-0363 through xep_0363's upload_file: finds the service in disco, reads its
        max-file-size form, asks for a slot and PUTs the bytes (base64 `data`, or `size` bytes of
        "x"). Answered by an `upload` event: type result with the GET url, or error with the
        exception slixmpp raised (FileTooBig before any slot request, HTTPError, IqError)."""
        from io import BytesIO

        from slixmpp.plugins.xep_0363.http_upload import FileTooBig, HTTPError

        self.register_plugin("xep_0363")  # here, not at start: it needs aiohttp
        data = base64.b64decode(cmd["data"]) if "data" in cmd else b"x" * cmd["size"]
        # slixmpp 1.8.3 finds the service with xep_0030's get_info_from_domain, which hands
        # asyncio.wait bare coroutines: Python 3.11 refuses that (TypeError). While the upload
        # runs, get_info gives tasks instead; the discovery itself stays slixmpp's.
        disco = self["xep_0030"]
        plain_get_info = disco.get_info
        disco.get_info = lambda *a, **k: asyncio.ensure_future(plain_get_info(*a, **k))
        try:
            url = await self["xep_0363"].upload_file(
                cmd["filename"],
                size=len(data),
                content_type=cmd.get("type"),
                input_file=BytesIO(data),
                timeout=10,
            )
        except FileTooBig as e:
            self.out("upload", type="error", error="FileTooBig", text=str(e))
            return
        except HTTPError as e:
            self.out("upload", type="error", error="HTTPError", text=str(e))
            return
        except IqError as e:
            self.out("upload", type="error", error="IqError", condition=e.condition)
            return
        finally:
            disco.get_info = plain_get_info
        self.out("upload", type="result", url=url)

    async def download(self, cmd):
        """GETs a shared file's `url` with aiohttp (what xep_0363 uploads with), as a client
        opening a link from a message does: a `download` event with the HTTP status, the
        Content-Type, the length and the SHA-256 of the bytes received."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.get(cmd["url"]) as resp:
                data = await resp.read()
                self.out(
                    "download",
                    status=resp.status,
                    content_type=resp.headers.get("Content-Type"),
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )

    async def run_command(self, cmd):
        try:
            await self.handle(cmd)
        except IqError as e:
            self.out("error", cmd=cmd["cmd"], condition=e.condition, xml=str(e.iq))
        except PresenceError as e:
            self.out("error", cmd=cmd["cmd"], condition=e.condition, xml=str(e.presence))
        except (IqTimeout, asyncio.TimeoutError):
            self.out("error", cmd=cmd["cmd"], condition="timeout")
        except Exception as e:  # a bug here or in slixmpp: tell the test now, not by a timeout
            logging.exception("command %s failed", cmd)
            self.out("error", cmd=cmd["cmd"], condition="exception", text=repr(e))


NS_PUSH = "urn:xmpp:push:0"
PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"
PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"


def pubsub_item(item):
    """A pubsub <item/> (result or event) as the test reads it: id and payload XML."""
    payload = item["payload"]
    return {"id": item["id"], "xml": tostring(payload) if payload is not None else None}


def stanza_id(msg):
    """The message's XEP-0359 <stanza-id/> as slixmpp's xep_0359 reads it, or None."""
    sid = msg.get_plugin("stanza_id", check=True)
    return {"id": sid["id"], "by": sid["by"]} if sid is not None else None


def roster_items(iq):
    return [
        {
            "jid": str(jid),
            "name": item["name"],
            "subscription": item["subscription"],
            "ask": item["ask"] or None,
            "groups": sorted(item["groups"]),
        }
        for jid, item in iq["roster"]["items"].items()
    ]


def main(client_class=Client):
    args = client_args(resumable=True)
    # The XML both ways goes to stderr, which the test shows when it fails.
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(message)s")
    client = client_class(args)
    serve(client, client.run_command, client.start, args.deadline)


if __name__ == "__main__":
    main()
