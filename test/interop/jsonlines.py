"""The wire between a Python interop client and its mocha test: JSON lines.

Events go out on the process's original stdout, one JSON object per line. Everything a library
prints on its own (slixmpp 1.8 prints from inside join_muc_wait) is sent to stderr instead, so
the event stream stays parseable. Commands come in on stdin, one JSON object per line; the
caller feeds bytes to CommandReader and gets whole commands back.
"""

import argparse
import asyncio
import json
import os
import sys

_events = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
sys.stdout = sys.stderr


def emit(event, **fields):
    """Writes one event line, e.g. emit("message", body="hi")."""
    _events.write(json.dumps({"event": event, **fields}, default=str) + "\n")
    _events.flush()


class CommandReader:
    """Splits stdin bytes into JSON commands; an empty read means the test went away."""

    def __init__(self):
        self._buf = b""

    def feed(self, data):
        self._buf += data
        commands = []
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            if line.strip():
                commands.append(json.loads(line))
        return commands


def client_args(resumable=False):
    """The command line every client gets from test/helpers/interop-launcher.ts; with
    `resumable`, also the XEP-0198 state to resume from (--sm-id, --sm-handled)."""
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")  # federation runs give each server its own
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--no-check-hostname", action="store_true")
    p.add_argument("--direct-tls", action="store_true")
    if resumable:
        p.add_argument("--sm-id")
        p.add_argument("--sm-handled", type=int, default=0)
    p.add_argument("--deadline", type=float, default=30)
    return p.parse_args()


def serve(client, run_command, start, deadline):
    """Runs the event loop for `client`: each command from stdin goes to `run_command` (a
    coroutine function), `start` connects. Returns once the client, its `quitting` set, is
    disconnected, or stdin closes; past `deadline` seconds, reports an error and exits 2."""
    loop = asyncio.get_event_loop()
    reader = CommandReader()
    done = loop.create_future()

    def on_stdin():
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:  # the test is gone: leave at once
            loop.remove_reader(sys.stdin.fileno())
            if not done.done():
                done.set_result("stdin closed")
            return
        for cmd in reader.feed(data):
            loop.create_task(run_command(cmd))

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    client.add_event_handler(
        "disconnected", lambda _r: client.quitting and not done.done() and done.set_result("quit")
    )
    start()
    try:
        loop.run_until_complete(asyncio.wait_for(asyncio.shield(done), deadline))
    except asyncio.TimeoutError:
        emit("error", condition="deadline", text=f"still running after {deadline}s")
        sys.exit(2)
