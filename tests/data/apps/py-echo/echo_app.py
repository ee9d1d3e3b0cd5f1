"""A stand-in for a Gradio app (gradio cannot be installed here): serves
HTTP on $PORT with the standard library and answers with what slipway put
in its environment, as JSON."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMES = ("PORT", "ROOT_PATH", "GRADIO_ROOT_PATH", "GRADIO_SERVER_NAME",
         "GRADIO_SERVER_PORT", "PLUGIN_PARAMS", "GREETING")


class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        info = {name: os.environ.get(name) for name in NAMES}
        info["file"] = os.path.basename(__file__)
        info["path"] = self.path
        body = json.dumps(info).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request:", fmt % args, flush=True)


print("echo app %s listening on %s" % (os.path.basename(__file__),
                                        os.environ["PORT"]), flush=True)
ThreadingHTTPServer((os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
                     int(os.environ["PORT"])), Echo).serve_forever()
