"""Plugin entry module: `app` has a Gradio-like launch() (the launcher
calls app.launch(server_name=, server_port=, root_path=)) that serves the
environment and its arguments as JSON with the standard library."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoApp:
    def launch(self, server_name="127.0.0.1", server_port=7860, root_path=""):
        launched = {"server_name": server_name, "server_port": server_port,
                    "root_path": root_path}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({
                    "launch": launched,
                    "PLUGIN_PARAMS": os.environ.get("PLUGIN_PARAMS"),
                    "GRADIO_ROOT_PATH": os.environ.get("GRADIO_ROOT_PATH"),
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        print("plugin app launched:", json.dumps(launched), flush=True)
        ThreadingHTTPServer((server_name, server_port),
                            Handler).serve_forever()


app = EchoApp()
