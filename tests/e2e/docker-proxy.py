#!/usr/bin/python3
"""A recording proxy in front of the Docker socket, for e2e tests.

    docker-proxy.py LISTEN_SOCKET RECORD_FILE [TARGET_SOCKET]

Serves LISTEN_SOCKET and forwards every connection to TARGET_SOCKET
(default /var/run/docker.sock).  Each request is sent upstream with
"Connection: close", so one connection carries one request and the proxy
sees every request line.  A container create (POST [/vX.Y]/containers/
create) is read whole: its body is appended to RECORD_FILE as one JSON line
{"name": <the ?name= value>, "body": <the body as the agent sent it>}, and
forwarded without HostConfig.DeviceRequests, so containers that ask for
NVIDIA GPUs start on a host without the NVIDIA runtime.  Everything else
passes through untouched (streams, builds, events).  A create whose Env
holds SLIPWAY_TEST_FAIL_CREATE=1 is recorded and answered 500 without
reaching Docker (a create failing after the GPUs were reserved).  SIGTERM
ends it.
"""
import json
import os
import re
import signal
import socket
import sys
import threading
import urllib.parse

HEAD_MAX = 1 << 20
BODY_MAX = 16 << 20
CREATE = re.compile(rb"^POST (/v[0-9.]+)?/containers/create(\?[^ ]*)? HTTP/1\.[01]$")

listen, record = sys.argv[1], sys.argv[2]
target = sys.argv[3] if len(sys.argv) > 3 else "/var/run/docker.sock"
record_lock = threading.Lock()
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d or len(data) + len(d) > HEAD_MAX:
            return None, None
        data += d
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.split(b"\r\n"), rest


def read_exact(c, data, n):
    while len(data) < n:
        d = c.recv(65536)
        if not d:
            raise OSError("short body")
        data += d
    return data


def read_chunked(c, data):
    body = b""
    while True:
        while b"\r\n" not in data:
            d = c.recv(65536)
            if not d:
                raise OSError("short chunk")
            data += d
        line, data = data.split(b"\r\n", 1)
        size = int(line.split(b";")[0], 16)
        data = read_exact(c, data, size + 2)
        if size == 0:
            return body
        body += data[:size]
        data = data[size + 2:]
        if len(body) > BODY_MAX:
            raise OSError("body too large")


def header(lines, name):
    for h in lines[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def create_body(c, lines, rest):
    """The whole create body, recorded, without DeviceRequests."""
    if (header(lines, b"transfer-encoding") or b"").lower() == b"chunked":
        raw = read_chunked(c, rest)
    else:
        n = int(header(lines, b"content-length") or b"0")
        if n > BODY_MAX:
            raise OSError("body too large")
        raw = read_exact(c, rest, n)[:n]
    body = json.loads(raw.decode("utf-8")) if raw else {}
    query = urllib.parse.urlsplit(lines[0].split(b" ")[1].decode()).query
    name = urllib.parse.parse_qs(query).get("name", [""])[0]
    with record_lock, open(record, "a") as f:
        f.write(json.dumps({"name": name, "body": body}) + "\n")
    if isinstance(body.get("HostConfig"), dict):
        body["HostConfig"].pop("DeviceRequests", None)
    return json.dumps(body).encode()


def serve(c):
    u = None
    try:
        lines, rest = read_head(c)
        if lines is None:
            c.close()
            return
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(target)
        upgrade = header(lines, b"upgrade") is not None
        drop = {b"connection", b"keep-alive"} if not upgrade else set()
        if CREATE.match(lines[0]):
            drop |= {b"content-length", b"transfer-encoding", b"expect"}
            if (header(lines, b"expect") or b"").lower() == b"100-continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = create_body(c, lines, rest)
            rest = b""
            if b'"SLIPWAY_TEST_FAIL_CREATE=1"' in body:
                msg = b'{"message": "create refused by the test proxy"}'
                c.sendall(b"HTTP/1.1 500 Internal Server Error\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Connection: close\r\nContent-Length: %d\r\n\r\n"
                          % len(msg) + msg)
                c.close()
                return
        else:
            body = None
        out = [lines[0]] + [h for h in lines[1:]
                            if h.partition(b":")[0].strip().lower() not in drop]
        if not upgrade:
            out.append(b"Connection: close")
        if body is not None:
            out.append(b"Content-Length: %d" % len(body))
        u.sendall(b"\r\n".join(out) + b"\r\n\r\n" + rest + (body or b""))
    except (OSError, ValueError) as e:
        sys.stderr.write("docker-proxy: %s\n" % e)
        for s in (c, u):
            if s is not None:
                s.close()
        return
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    pump(u, c)


try:
    os.unlink(listen)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(listen)
srv.listen(128)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
