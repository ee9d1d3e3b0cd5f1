"""Stand-in for a plugin's Gradio interface (gradio is not installable
offline).  `demo` has the launch(server_name, server_port, root_path)
method the launcher calls; it serves, as JSON, what the container was
given: PLUGIN_PARAMS, the launch arguments and the variables named in
ECHO_ENVS.  `app` is the same object (config.yaml names
plugin.gradio_interface.app)."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Demo:
    def launch(self, server_name="127.0.0.1", server_port=7860, root_path=""):
        launched = {"server_name": server_name, "server_port": server_port,
                    "root_path": root_path}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                names = os.environ.get("ECHO_ENVS", "").split(",")
                body = json.dumps({
                    "plugin": "sdk-echo",
                    "launch": launched,
                    "path": self.path,
                    "PLUGIN_PARAMS": os.environ.get("PLUGIN_PARAMS"),
                    "envs": {n: os.environ.get(n) for n in names if n},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                print("request:", fmt % args, flush=True)

        print("sdk-echo launched:", json.dumps(launched), flush=True)
        ThreadingHTTPServer((server_name, server_port),
                            Handler).serve_forever()


demo = Demo()
app = demo
