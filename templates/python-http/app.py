"""Built-in template: a small web app on the Python standard library only.

slipway runs it with PORT (where to listen) and ROOT_PATH (the public
prefix, /apps/<id>) in the environment; nginx strips the prefix before the
request arrives, so paths here start at "/", and links are made relative
(or from ROOT_PATH) so they work behind the proxy.
"""
import html
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
ROOT_PATH = os.environ.get("ROOT_PATH", "").rstrip("/")
STARTED = time.time()
HITS = {"count": 0}


class Handler(BaseHTTPRequestHandler):
    def send_body(self, status, ctype, body):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            HITS["count"] += 1
            self.send_body(200, "text/html; charset=utf-8", (
                "<!doctype html><meta charset=utf-8>"
                "<title>slipway python-http</title>"
                "<h1>Hello from the Python standard library</h1>"
                "<p>Visits: %d. Served under <code>%s/</code>.</p>"
                "<p><a href=\"api/info\">api/info</a> (JSON)</p>"
            ) % (HITS["count"], html.escape(ROOT_PATH)))
        elif path == "/api/info":
            self.send_body(200, "application/json", json.dumps({
                "app": "python-http",
                "root_path": ROOT_PATH,
                "uptime_s": round(time.time() - STARTED, 1),
                "visits": HITS["count"],
            }))
        else:
            self.send_body(404, "text/plain; charset=utf-8", "not found\n")

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        print("%s %s" % (self.address_string(), fmt % args), flush=True)


if __name__ == "__main__":
    print("python-http listening on port %d under %s/" % (PORT, ROOT_PATH),
          flush=True)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
