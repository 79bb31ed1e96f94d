#!/usr/bin/env python3
"""Demo services for `make run`, standard library only.

  servers.py upstream PORT   echoes every request back as JSON (method, path, headers, body)
  servers.py auth PORT       a jwt-reconcile auth service: answers {"userId": ..., "role": ...}

Options after PORT: --keep-alive (HTTP/1.1 persistent connections), --quiet (no request log).
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.reply(200, {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        })

    def reply(self, status, obj):
        data = (json.dumps(obj, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def log_message(self, fmt, *args):
        sys.stderr.write("[%s] %s\n" % (type(self).__name__, fmt % args))


class Auth(Echo):
    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if "deny" in (self.headers.get("x-forwarded-path") or ""):
            self.reply(403, {"error": "denied"})
            return
        self.reply(200, {"userId": "u-123", "role": "admin", "tenant_id": 42})

    do_GET = do_POST = handle_any


def main():
    kind, port = sys.argv[1], int(sys.argv[2])
    handler = {"upstream": Echo, "auth": Auth}[kind]
    if "--keep-alive" in sys.argv[3:]:
        # HTTP/1.1 with persistent connections (`make soak`); bodies must then come with a
        # content-length, as the proxy sends them.
        handler.protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, Nagle's algorithm holds the
        # body until the peer's delayed ACK (40 ms a request).
        handler.disable_nagle_algorithm = True
    if "--quiet" in sys.argv[3:]:
        handler.log_message = lambda *args: None
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()


if __name__ == "__main__":
    main()
