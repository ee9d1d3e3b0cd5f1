#!/usr/bin/python3
"""bench/load-writer.py: the writing half of bench/load.sh's mixed traffic.

  load-writer.py API_PORT TOKEN USER PASSWORD APP_ID ZIP SECONDS TAG OUT.json

For SECONDS, at fixed rates and each on its own thread: logins (4/s),
registrations (1/s), uploads of ZIP (one every 2 s), edits of APP_ID's
description (5/s).  Writes OUT.json with, per kind, the count, the status
codes, p50/p99 latency, and what each acknowledged write created, so the
caller can check that none was lost."""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

port, tok, user, pw, app, zpath, secs, tag, out = sys.argv[1:10]
port, secs = int(port), float(secs)
with open(zpath, "rb") as f:
    zdata = f.read()
results = {}
lock = threading.Lock()
end = time.monotonic() + secs


def call(method, path, body=b"", ctype=None, auth=True):
    h = {}
    if auth:
        h["Authorization"] = "Bearer " + tok
    if ctype:
        h["Content-Type"] = ctype
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.monotonic()
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        status = r.status
    except OSError:
        status, data = 0, b""
    finally:
        c.close()
    return status, (time.monotonic() - t0) * 1000, data


def record(kind, status, ms, made=None):
    with lock:
        k = results.setdefault(kind, {"codes": {}, "ms": [], "made": []})
        k["codes"][str(status)] = k["codes"].get(str(status), 0) + 1
        k["ms"].append(ms)
        if made is not None:
            k["made"].append(made)


def form(d):
    return urllib.parse.urlencode(d).encode()


def multipart(fields, fname, data):
    b = "slipwayloadbench%d" % time.monotonic_ns()
    parts = []
    for k, v in fields.items():
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                      % (b, k, v)).encode())
    parts.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                  "Content-Type: application/zip\r\n\r\n" % (b, fname)).encode() + data + b"\r\n")
    parts.append(("--%s--\r\n" % b).encode())
    return b"".join(parts), "multipart/form-data; boundary=" + b


def every(period, fn):
    i = 0
    nxt = time.monotonic()
    while time.monotonic() < end:
        fn(i)
        i += 1
        nxt += period
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)


def login(i):
    st, ms, _ = call("POST", "/login", form({"username": user, "password": pw}),
                     "application/x-www-form-urlencoded", auth=False)
    record("login", st, ms)


def register(i):
    name = "load-%s-%d" % (tag, i)
    st, ms, _ = call("POST", "/register", form({"username": name, "password": "load-pass-1"}),
                     "application/x-www-form-urlencoded", auth=False)
    record("register", st, ms, name if st == 201 else None)


def upload(i):
    body, ctype = multipart({"name": "load-%s-%d" % (tag, i)}, "app.zip", zdata)
    st, ms, data = call("POST", "/upload", body, ctype)
    made = None
    if st == 202:
        made = json.loads(data)["app_id"]
    record("upload", st, ms, made)


def edit(i):
    desc = "load-%s-edit-%d" % (tag, i)
    st, ms, _ = call("POST", "/edit_app", form({"app_id": app, "description": desc}),
                     "application/x-www-form-urlencoded")
    record("edit", st, ms, desc if st == 200 else None)


threads = [threading.Thread(target=every, args=a) for a in
           ((0.25, login), (1.0, register), (2.0, upload), (0.2, edit))]
for t in threads:
    t.start()
for t in threads:
    t.join()
for k in results.values():
    ms = sorted(k.pop("ms"))
    k["n"] = len(ms)
    k["p50"] = ms[len(ms) // 2] if ms else 0
    k["p99"] = ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else 0
with open(out, "w") as f:
    json.dump(results, f)
