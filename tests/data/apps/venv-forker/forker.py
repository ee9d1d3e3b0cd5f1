"""A stand-in for a Gradio app run by the host runtime (venv): serves HTTP
on $GRADIO_SERVER_NAME:$PORT with the standard library, forks a child
(`sleep 1000`) at start so a test can check that stopping the app ends its
whole process group, and answers with what it sees: its environment (names
and the values slipway sets), pids, user, working directory, and the value
of an optional module installed from requirements.txt."""
import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMES = ("PORT", "ROOT_PATH", "GRADIO_ROOT_PATH", "GRADIO_SERVER_NAME",
         "GRADIO_SERVER_PORT", "PLUGIN_PARAMS", "GREETING", "HOME", "PATH",
         "LANG", "VIRTUAL_ENV", "CUDA_VISIBLE_DEVICES")

child = subprocess.Popen(["sleep", "1000"])
try:
    import slipway_test_dep
    DEP = slipway_test_dep.VALUE
except ImportError:
    DEP = None


class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        info = {name: os.environ.get(name) for name in NAMES}
        info.update({
            "file": os.path.basename(__file__),
            "path": self.path,
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "sid": os.getsid(0),
            "child_pid": child.pid,
            "uid": os.getuid(),
            "cwd": os.getcwd(),
            "env_names": sorted(os.environ),
            "executable": sys.executable,
            "prefix": sys.prefix,
            "dep": DEP,
        })
        body = json.dumps(info).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request:", fmt % args, flush=True)


print("forker app %s listening on %s:%s (child %d)" % (
    os.path.basename(__file__), os.environ.get("GRADIO_SERVER_NAME"),
    os.environ["PORT"], child.pid), flush=True)
ThreadingHTTPServer((os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                     int(os.environ["PORT"])), Echo).serve_forever()
