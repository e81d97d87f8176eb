"""slix_client.py's client plus SOCKS5 bytestreams (XEP-0065) through slixmpp's xep_0065 plugin,
which finds the server's proxy itself (disco#items, disco#info for proxy/bytestreams, the
streamhost's address) and uses it as the Target and as the Requester.

    /usr/bin/python3 slix_bytestreams.py (slix_client.py's arguments)

Commands (besides slix_client.py's): s5b_send {to, data (base64)}: discovers the proxies,
negotiates a bytestream with `to` through them (xep_0065's handshake: the offer, the Target's
streamhost-used, its own SOCKS5 connection, the activation), writes the bytes and closes;
answered by `s5b_sent` (type result with the proxies found, or error).
Events: s5b_received {size, sha256} once a bytestream the client accepted as Target closes.
"""

import hashlib
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from slix_client import Client, main  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402

CHUNK = 16384


class BytestreamsClient(Client):
    def __init__(self, args):
        super().__init__(args)
        # As Target: accept every offer (the test offers only what it means to).
        self.register_plugin("xep_0065", {"auto_accept": True})
        self.received = bytearray()
        self.target = False
        self.add_event_handler("socks5_stream", self.on_stream)
        self.add_event_handler("socks5_data", self.received.extend)
        self.add_event_handler("socks5_closed", self.on_closed)

    def on_stream(self, _conn):
        self.target = True

    def on_closed(self, _exc):
        if self.target:
            self.out(
                "s5b_received",
                size=len(self.received),
                sha256=hashlib.sha256(self.received).hexdigest(),
            )

    async def handle(self, cmd):
        if cmd["cmd"] == "s5b_send":
            await self.s5b_send(cmd)
        else:
            await super().handle(cmd)

    async def s5b_send(self, cmd):
        s5b = self["xep_0065"]
        data = base64.b64decode(cmd["data"])
        try:
            proxies = await s5b.discover_proxies(timeout=10)
            sock = await s5b.handshake(cmd["to"], timeout=10)
        except IqError as e:
            self.out("s5b_sent", type="error", condition=e.condition, xml=str(e.iq))
            return
        if sock is None:
            self.out("s5b_sent", type="error", condition="no bytestream")
            return
        for i in range(0, len(data), CHUNK):
            await sock.write(data[i : i + CHUNK])
        sock.transport.close()  # after what is buffered: the Target then reads to the end
        self.out(
            "s5b_sent",
            type="result",
            size=len(data),
            proxies={str(jid): [host, int(port)] for jid, (host, port) in proxies.items()},
        )


if __name__ == "__main__":
    main(BytestreamsClient)
