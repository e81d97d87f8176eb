"""SCRAM-*-PLUS login with channel-binding data computed by Python's own ssl module.

An independent check of Parley's channel binding (RFC 5802 §6, RFC 5929): the data comes from
OpenSSL as Python exposes it (get_channel_binding for tls-unique, the peer certificate for
tls-server-end-point), not from any code of Parley's. Prints one JSON object:
  {"tls": "TLSv1.3", "mechanisms": [...], "cb_types": [...], "result": "success"|"failure",
   "condition": ..., "text": ..., "server_verified": true}

usage: scram_plus.py PORT USER PASSWORD MECHANISM CB_TYPE [--direct-tls] [--tls1.2]
       [--cert-hash NAME]   (hash for tls-server-end-point, per RFC 5929 §4.1)
"""

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import sys

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = sys.argv[1:]
    port, user, password, mechanism, cb_type = args[:5]
    cert_hash = flags[flags.index("--cert-hash") + 1] if "--cert-hash" in flags else "sha256"

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    if "--tls1.2" in flags:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    if "--direct-tls" in flags:
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    reader = Reader(sock)
    header(sock)
    features = reader.until("</stream:features>")
    if "--direct-tls" not in flags:
        sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        reader.until("<proceed")
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
        reader = Reader(sock)
        header(sock)
        features = reader.until("</stream:features>")

    out = {
        "tls": sock.version(),
        "mechanisms": re.findall(r"<mechanism>([^<]+)</mechanism>", features),
        "cb_types": re.findall(r"<channel-binding type=['\"]([^'\"]+)['\"]", features),
    }

    if cb_type == "tls-unique":
        cb_data = sock.get_channel_binding("tls-unique")
    elif cb_type == "tls-server-end-point":
        cb_data = hashlib.new(cert_hash, sock.getpeercert(binary_form=True)).digest()
    else:
        cb_data = b""  # a type we cannot compute: the server must refuse it before it matters
    hash_name = "sha256" if mechanism.startswith("SCRAM-SHA-256") else "sha1"
    gs2 = f"p={cb_type},,"
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = f"n={user},r={nonce}"
    first = b64(gs2 + bare)
    sock.sendall(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>{first}</auth>".encode())
    answer = reader.until_re(r"</challenge>|</failure>")
    if "<failure" in answer:
        print(json.dumps({**out, **failure(answer)}))
        return
    server_first = base64.b64decode(re.search(r">([^<]+)</challenge>", answer).group(1)).decode()
    attrs = dict(p.split("=", 1) for p in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(
        hash_name, password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    without_proof = f"c={b64(gs2.encode() + cb_data)},r={attrs['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hash_name).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = b64(f"{without_proof},p={base64.b64encode(proof).decode()}")
    sock.sendall(f"<response xmlns='{NS_SASL}'>{final}</response>".encode())
    answer = reader.until_re(r"</success>|<success[^>]*/>|</failure>")
    if "<failure" in answer:
        print(json.dumps({**out, **failure(answer)}))
        return
    v = base64.b64decode(re.search(r">([^<]+)</success>", answer).group(1)).decode()
    expected = "v=" + base64.b64encode(hmac.new(server_key, auth_message, hash_name).digest()).decode()
    print(json.dumps({**out, "result": "success", "server_verified": v == expected}))
    sock.close()


def b64(data) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def header(sock) -> None:
    sock.sendall(
        b"<?xml version='1.0'?><stream:stream to='localhost' version='1.0' "
        b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    )


def failure(xml: str) -> dict:
    condition = re.search(r"<failure[^>]*>\s*<([a-z-]+)", xml)
    text = re.search(r"<text[^>]*>([^<]*)</text>", xml)
    return {
        "result": "failure",
        "condition": condition.group(1) if condition else None,
        "text": text.group(1) if text else None,
    }


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = ""

    def until(self, marker: str) -> str:
        return self.until_re(re.escape(marker))

    def until_re(self, pattern: str) -> str:
        while not re.search(pattern, self.buf):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit(f"connection closed while waiting for {pattern}: {self.buf}")
            self.buf += chunk.decode()
        out, self.buf = self.buf, ""
        return out


if __name__ == "__main__":
    main()
