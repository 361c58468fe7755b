#!/usr/bin/env python3
"""A stand-in gu1 on loopback for the measurements. MODE (argv[2]):
  huge      every session read answers a valid session JSON padded to 100 MiB (streamed)
  redirect  every read answers 302 to argv[3] (another server's URL prefix)
  other     (the redirect target) answers an approved session for any entity
  r429      every call answers 429 with Retry-After: 7 and a message with personal data
  r401      every call answers 401 {"error": "Invalid API key: Bearer sk_live_…"}
"""
import json, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

port, mode = int(sys.argv[1]), sys.argv[2]
target = sys.argv[3] if len(sys.argv) > 3 else ""
created = 0

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def entity(self):
        parts = self.path.split("/")
        return parts[parts.index("entities") + 1] if "entities" in parts else "ent"
    def send_json(self, status, obj, extra=()):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        e = self.entity()
        if mode == "huge":
            head = json.dumps({"id": "bio_1", "entityId": e, "status": "pending"})[:-1] + ', "pad": "'
            n = 100 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(head) + n + 2))
            self.end_headers()
            self.wfile.write(head.encode())
            chunk = b"a" * (1024 * 1024)
            try:
                for _ in range(100): self.wfile.write(chunk)
                self.wfile.write(b'"}')
            except OSError: pass
        elif mode == "redirect":
            self.send_response(302); self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0"); self.end_headers()
        elif mode == "other":
            self.send_json(200, {"id": "bio_1", "entityId": e, "status": "approved"})
        elif mode == "r429":
            self.send_json(429, {"error": "RATE_LIMITED", "message": "slow down, Ada Lovelace"}, [("Retry-After", "7")])
        elif mode == "r401":
            self.send_json(401, {"error": "Invalid API key: Bearer sk_live_standin", "message": "Bearer sk_live_standin"})
    do_POST = do_GET

ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
