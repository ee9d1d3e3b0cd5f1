#!/usr/bin/python3
"""Conformance client for slipway's container API (issue 6).

Speaks the Synapse SDK AgentClient wire protocol exactly, with
python3-requests from Debian (the library the SDK uses): the request
building below mirrors synapse_sdk.clients.base.BaseClient and the
ContainerClientMixin (JSON bodies with Content-Type application/json;
with a plugin file, multipart via requests' data= and files=, dict fields
as json.dumps text, labels repeated, model as decimal; the token in a bare
Authorization header plus SYNAPSE-User / SYNAPSE-Tenant; paths with a
trailing slash; list_all follows `next` with page_size=100).

Run by tests/e2e/containers.sh with the stack up.  Environment:
  API            http://127.0.0.1:<control port>
  ADMIN_PASSWORD the admin's password
  FIXTURE        tests/data/containers (the sdk-echo plugin)
  WORK           a scratch directory
  TEMPLATES      the stack's templates directory (folders dropped in)
Prints one line per check, "ok - <name>" or "not ok - <name>", and
"# ..." diagnostics; the shell numbers them into TAP.
"""
import concurrent.futures
import io
import json
import os
import shutil
import sys
import time
import zipfile

import requests

API = os.environ["API"].rstrip("/")
ADMIN_PASSWORD = os.environ["ADMIN_PASSWORD"]
FIXTURE = os.environ["FIXTURE"]
WORK = os.environ["WORK"]
TEMPLATES = os.environ["TEMPLATES"]
RELEASE = "sdk-echo@1.0.0"
BUILD_TIMEOUT = 90
failures = 0


def check(cond, name, detail=None):
    global failures
    if cond:
        print("ok - %s" % name, flush=True)
    else:
        failures += 1
        print("not ok - %s" % name, flush=True)
        if detail is not None:
            for line in str(detail)[:1500].splitlines() or [""]:
                print("#   %s" % line, flush=True)
    return bool(cond)


def diag(msg):
    print("# %s" % msg, flush=True)


def is_json_error(resp):
    """A JSON error body with a detail (API.md: stable JSON errors)."""
    try:
        body = resp.json()
    except ValueError:
        return False
    return (resp.headers.get("Content-Type", "").startswith("application/json")
            and isinstance(body, dict) and isinstance(body.get("detail"), str))


class PluginRelease:
    """What synapse_sdk.plugins.models.PluginRelease offers the mixin."""

    def __init__(self, config, plugin=None):
        self.config = config
        self.code = config["code"]
        self.version = config["version"]
        self.plugin = plugin


class AgentClient:
    """The SDK's BaseClient + ContainerClientMixin request building, with
    the raw requests.Response returned so the test can look at status codes
    and headers.  Redirects are not followed: a redirect is a failure."""

    page_size = 100

    def __init__(self, base_url, token, timeout=(5, 10)):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()
        self.last = None

    def _get_headers(self):
        headers = {"Authorization": self.token} if self.token else {}
        headers["SYNAPSE-User"] = "Token user-token"
        headers["SYNAPSE-Tenant"] = "Token tenant-token"
        return headers

    def _url(self, path):
        if path.startswith(("http://", "https://")):
            return path
        return "%s/%s" % (self.base_url, path.lstrip("/"))

    def request(self, method, path, **kwargs):
        headers = self._get_headers()
        headers.update(kwargs.pop("headers", {}))
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        if method in ("post", "put", "patch"):
            # BaseClient._prepare_request_body
            if kwargs.get("files") is not None:
                for name, f in list(kwargs["files"].items()):
                    if isinstance(f, str):
                        kwargs["files"][name] = (os.path.basename(f),
                                                 open(f, "rb"))
                if "data" in kwargs:
                    for name, value in list(kwargs["data"].items()):
                        if isinstance(value, dict):
                            kwargs["data"][name] = json.dumps(value)
            else:
                headers["Content-Type"] = "application/json"
                if "data" in kwargs:
                    kwargs["data"] = json.dumps(kwargs["data"])
        t0 = time.monotonic()
        resp = getattr(self.session, method)(self._url(path), headers=headers,
                                             **kwargs)
        resp.elapsed_s = time.monotonic() - t0
        self.last = resp
        return resp

    # ContainerClientMixin
    def health_check(self):
        return self.request("get", "health/")

    def list_containers(self, params=None):
        return self.request("get", "containers/", params=params or {})

    def list_all(self, params=None):
        """BaseClient._list_all: (items, count, pages fetched, next urls)."""
        params = dict(params or {})
        first = self.request("get", "containers/", params=params)
        count = first.json().get("count")
        request_params = dict(params)
        request_params.setdefault("page_size", self.page_size)
        items, urls, next_url, is_first = [], [], "containers/", True
        while next_url:
            if is_first:
                resp = self.request("get", next_url, params=request_params)
                is_first = False
            else:
                urls.append(next_url)
                resp = self.request("get", next_url)
            if resp.status_code != 200:
                raise RuntimeError("page %s: %d %s" % (next_url,
                                   resp.status_code, resp.text[:200]))
            body = resp.json()
            items.extend(body["results"])
            next_url = body.get("next")
            if len(urls) > 1000:
                raise RuntimeError("next never ends")
        return items, count, urls

    def get_container(self, container_id, slash=True):
        return self.request("get", "containers/%s%s" % (container_id,
                                                        "/" if slash else ""))

    def delete_container(self, container_id, slash=True):
        return self.request("delete", "containers/%s%s" % (
            container_id, "/" if slash else ""))

    def update_container(self, container_id, status, slash=True):
        return self.request("patch", "containers/%s%s" % (
            container_id, "/" if slash else ""), data={"status": status})

    def get_build(self, build_id):
        return self.request("get", "builds/%s/" % build_id)

    @staticmethod
    def _serialize_plugin_release(plugin_release):
        if hasattr(plugin_release, "code") and hasattr(plugin_release,
                                                       "version"):
            payload = {
                "plugin_release": plugin_release.code,
                "plugin": getattr(plugin_release, "plugin", None),
                "version": plugin_release.version,
            }
            if hasattr(plugin_release, "config") and \
                    "actions" in plugin_release.config:
                actions = plugin_release.config["actions"]
                if actions:
                    action_name = next(iter(actions.keys()))
                    payload["action"] = action_name
                    ep = actions[action_name].get("entrypoint")
                    if ep:
                        payload["entrypoint"] = \
                            ep.rsplit(".", 1)[0].replace(".", "/") + ".py"
            return payload
        if isinstance(plugin_release, str):
            payload = {"plugin_release": plugin_release}
            if "@" in plugin_release:
                plugin, version = plugin_release.rsplit("@", 1)
                payload.setdefault("plugin", plugin)
                payload.setdefault("version", version)
            return payload
        raise TypeError("plugin_release must be a PluginRelease or a string")

    def create_container(self, plugin_release=None, *, model=None,
                         params=None, envs=None, metadata=None, labels=None,
                         plugin_file=None, path="containers/"):
        if not plugin_release and not plugin_file:
            raise ValueError("plugin_release or plugin_file is required")
        data = {}
        if plugin_release:
            data.update(self._serialize_plugin_release(plugin_release))
        if model is not None:
            data["model"] = model
        optional = {
            "params": params if params is not None else None,
            "envs": envs or None,
            "metadata": metadata or None,
            "labels": list(labels) if labels else None,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        kwargs = {"data": data}
        if plugin_file:
            kwargs["files"] = {"file": plugin_file}
        return self.request("post", path, **kwargs)

    def list_docker_containers(self):
        return self.request("get", "containers/docker/")

    def get_docker_container(self, container_id):
        return self.request("get", "containers/docker/%s" % container_id)

    def create_docker_container(self, plugin_release, params=None, envs=None,
                                metadata=None, labels=None):
        data = {"plugin_release": plugin_release}
        for k, v in (("params", params), ("envs", envs),
                     ("metadata", metadata), ("labels", labels)):
            if v:
                data[k] = list(v) if k == "labels" else v
        return self.request("post", "containers/docker/", data=data)

    def delete_docker_container(self, container_id):
        return self.request("delete", "containers/docker/%s" % container_id)


# ---------------------------------------------------------------- helpers

def login(username, password):
    r = requests.post(API + "/login", data={"username": username,
                                            "password": password}, timeout=10)
    r.raise_for_status()
    return r.json()["access_token"]


def zip_dir(src, dest, prefix=""):
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(src):
            for f in sorted(files):
                full = os.path.join(root, f)
                rel = os.path.relpath(full, src)
                z.write(full, os.path.join(prefix, rel))
    return dest


def wait_build(client, build_id, timeout=BUILD_TIMEOUT):
    """Poll builds/{id}/ until completed/failed/cancelled."""
    seen = []
    end = time.monotonic() + timeout
    body = {}
    while time.monotonic() < end:
        r = client.get_build(build_id)
        if r.status_code != 200:
            return {"status": "http %d" % r.status_code,
                    "error": r.text[:300]}, seen
        body = r.json()
        if not seen or seen[-1] != body.get("status"):
            seen.append(body.get("status"))
        if body.get("status") in ("completed", "failed", "cancelled"):
            return body, seen
        time.sleep(0.25)
    return body, seen


def wait_status(client, cid, want, timeout=40):
    end = time.monotonic() + timeout
    st = None
    while time.monotonic() < end:
        r = client.get_container(cid)
        if r.status_code == 200:
            st = r.json().get("status")
            if st in want:
                return st
        else:
            st = "http %d" % r.status_code
        time.sleep(0.25)
    return st


def fetch(url, timeout=15):
    """GET an app endpoint until it answers 200 (routes settle)."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = requests.get(url, timeout=3)
            if last.status_code == 200:
                return last
        except requests.RequestException as e:
            last = e
        time.sleep(0.2)
    return last


def parallel(fn, args, workers=8):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, args))


# ---------------------------------------------------------------- the test

def main():
    token = login("admin", ADMIN_PASSWORD)
    c = AgentClient(API, token)
    plugin_dir = os.path.join(FIXTURE, "echo-plugin")
    archive = zip_dir(plugin_dir, os.path.join(WORK, "sdk-echo-1.0.0.zip"),
                      prefix="sdk-echo")
    created = []	# container ids to clean up

    # ------------------------------------------------ health, credentials
    r = c.health_check()
    body = r.json() if r.status_code == 200 else {}
    check(r.status_code == 200 and body.get("status") == "ok",
          "health/ answers ok", r.text)
    check(body.get("docker", {}).get("ok") is True,
          "health/ reports Docker ok", r.text)
    bad = AgentClient(API, "not-a-valid-token")
    r = bad.list_containers()
    check(r.status_code == 401 and is_json_error(r),
          "wrong token -> 401 JSON", "%d %s" % (r.status_code, r.text))
    r = AgentClient(API, "").list_containers()
    check(r.status_code == 401 and is_json_error(r), "no token -> 401 JSON")
    r = c.request("get", "containers/",
                  headers={"Authorization": "Bearer " + token})
    check(r.status_code == 200, "Bearer scheme accepted too")

    # ------------------------------------------------ create with an archive
    params1 = {"input_size": 512, "nested": {"list": [1, 2, 3]}}
    envs1 = {"ECHO_ENVS": "GREETING", "GREETING": "hello from the SDK"}
    r = c.create_container(RELEASE, model=101, params=params1, envs=envs1,
                           labels=["sdk", "archive"],
                           metadata={"created_by": "containers_sdk"},
                           plugin_file=archive)
    req_ct = r.request.headers.get("Content-Type", "")
    check(req_ct.startswith("multipart/form-data"),
          "archive create is sent as multipart (SDK wire form)", req_ct)
    check(r.status_code == 201, "create with archive -> 201",
          "%d %s" % (r.status_code, r.text))
    check(r.elapsed_s < 2.0, "create with archive answers within 2 s "
          "(%.3f s)" % r.elapsed_s)
    c1 = r.json() if r.status_code == 201 else {}
    created.append(c1.get("id"))
    check(isinstance(c1.get("id"), int), "container id is the numeric db id",
          c1)
    check(c1.get("status") == "building" and isinstance(c1.get("build_id"),
                                                          int),
          "new container is 'building' with a build_id", c1)
    check(c1.get("plugin_release") == RELEASE and c1.get("model") == 101,
          "plugin_release and model stored", c1)
    check(c1.get("params") == params1, "params stored as sent", c1)
    check(c1.get("labels") == ["sdk", "archive"],
          "repeated multipart labels -> list", c1)
    check(c1.get("metadata") == {"created_by": "containers_sdk"},
          "metadata from JSON text", c1)
    check(c1.get("envs") == envs1, "envs from JSON text", c1)
    ep1 = c1.get("endpoint", "")
    check(ep1.startswith("http://") and ep1.endswith("/apps/%s/" %
                                                     c1.get("app_id")),
          "endpoint is the absolute apps URL", ep1)
    for key in ("id", "docker_id", "name", "plugin_release", "model",
                "status", "image", "endpoint", "host_port", "params", "envs",
                "labels", "metadata", "created_at", "updated_at"):
        if key not in c1:
            check(False, "container has %s" % key, c1)
            break
    else:
        check(True, "container has every field of API.md")

    # ------------------------------------------------ build polling
    b1, seen = wait_build(c, c1.get("build_id"))
    diag("build %s went %s" % (c1.get("build_id"), " -> ".join(map(str, seen))))
    check(set(seen) <= {"pending", "building", "completed"},
          "build statuses are pending/building/completed", seen)
    check(b1.get("status") == "completed",
          "build of the archive container completes", b1)
    res1 = b1.get("result") or {}
    check(res1.get("id") == c1.get("id") and res1.get("status") == "running",
          "build result is the running container", res1)
    check(b1.get("error") is None, "completed build has error null")
    dock1 = res1.get("docker_id") or ""
    check(len(dock1) == 64, "running container has its docker_id", res1)

    g = fetch(ep1)
    ok_fetch = isinstance(g, requests.Response) and g.status_code == 200
    check(ok_fetch, "the endpoint serves the plugin", g)
    info = {}
    if ok_fetch:
        try:
            info = g.json()
        except ValueError:
            info = {}
    check(info.get("PLUGIN_PARAMS") is not None and
          json.loads(info["PLUGIN_PARAMS"]) == params1,
          "PLUGIN_PARAMS is the params JSON", info)
    check(info.get("envs", {}).get("GREETING") == "hello from the SDK",
          "envs reach the container", info)
    check(info.get("launch", {}).get("root_path") == "/apps/%s" %
          c1.get("app_id"), "demo.launch got root_path /apps/<app_id>", info)

    # ------------------------------------------------ create with a string release (JSON)
    r = c.create_container(RELEASE, model=102, labels=["sdk", "json"],
                           params={})
    check(r.request.headers.get("Content-Type") == "application/json",
          "string release create is sent as JSON")
    check(r.status_code == 201, "create from the stored release -> 201",
          "%d %s" % (r.status_code, r.text))
    check(r.elapsed_s < 2.0, "JSON create answers within 2 s (%.3f s)" %
          r.elapsed_s)
    c2 = r.json() if r.status_code == 201 else {}
    created.append(c2.get("id"))
    check(c2.get("id") != c1.get("id"), "a different model is a new container")
    b2, seen2 = wait_build(c, c2.get("build_id"))
    check(b2.get("status") == "completed", "its build completes", b2)
    ep2 = c2.get("endpoint")

    # ------------------------------------------------ restart instead of recreate
    r = c.create_container(RELEASE, model=102)
    rb = r.json() if r.status_code in (200, 201) else {}
    check(r.status_code == 200 and rb.get("restarted") is True,
          "same (release, model) -> 200 restarted", "%d %s" % (r.status_code,
                                                              r.text))
    check(rb.get("id") == c2.get("id") and rb.get("endpoint") == ep2,
          "restart keeps the id and the endpoint", rb)
    check(r.elapsed_s < 2.0, "restart answers within 2 s")
    b2r, _ = wait_build(c, rb.get("build_id"))
    check(b2r.get("status") == "completed" and
          (b2r.get("result") or {}).get("status") == "running",
          "the restart's build completes running", b2r)
    items, count, _ = c.list_all({"plugin_release": RELEASE, "model": 102})
    check(count == 1 and len(items) == 1, "still one container for the pair",
          count)

    # ------------------------------------------------ PluginRelease object form
    pr = PluginRelease({"code": "sdk-echo", "version": "1.0.0",
                        "actions": {"gradio": {
                            "entrypoint": "plugin.gradio_interface.app"}}})
    r = c.create_container(pr, model=103, params={"batch_size": 32})
    sent = json.loads(r.request.body)
    check(sent.get("plugin_release") == "sdk-echo" and
          sent.get("entrypoint") == "plugin/gradio_interface.py" and
          sent.get("action") == "gradio",
          "PluginRelease form sends code, version, action, entrypoint", sent)
    check(r.status_code == 201 and r.json().get("plugin_release") == RELEASE,
          "PluginRelease form -> 201 with code@version",
          "%d %s" % (r.status_code, r.text))
    c3 = r.json() if r.status_code == 201 else {}
    created.append(c3.get("id"))

    # ------------------------------------------------ releases from templates
    def template_folder(name, code, version, meta=None):
        d = os.path.join(TEMPLATES, name)
        shutil.copytree(plugin_dir, d)
        if meta is not None:
            with open(os.path.join(d, "template.json"), "w") as f:
                json.dump(meta, f)
        with open(os.path.join(d, "config.yaml"), "w") as f:
            f.write("code: %s\nname: Template plugin\nversion: %s\n"
                    "actions:\n  gradio:\n"
                    "    entrypoint: plugin.gradio_interface.app\n" %
                    (code, version))

    template_folder("sdk-tmpl-2", "sdk-tmpl", "2.0.0",
                    {"name": "sdk-tmpl@2.0.0"})
    template_folder("sdk-tmpl3", "sdk-tmpl3", "3.0.0")
    r = c.create_container("sdk-tmpl@2.0.0", model=1)
    check(r.status_code == 201 and r.json().get("plugin_release") ==
          "sdk-tmpl@2.0.0", "release from a template named code@version",
          "%d %s" % (r.status_code, r.text[:300]))
    ct = r.json() if r.status_code == 201 else {}
    created.append(ct.get("id"))
    bt, _ = wait_build(c, ct.get("build_id"))
    check(bt.get("status") == "completed", "and it runs", bt)
    r = c.create_container("sdk-tmpl3@3.0.0")
    check(r.status_code == 201 and r.json().get("model") is None,
          "release from a template named by its code, no model",
          "%d %s" % (r.status_code, r.text[:300]))
    created.append(r.json().get("id") if r.status_code == 201 else None)
    r2 = c.create_container("sdk-tmpl3@3.0.0")
    check(r2.status_code == 200 and r2.json().get("restarted") is True and
          r2.json().get("id") == r.json().get("id"),
          "(release, no model) is unique too", r2.text[:300])
    r = c.create_container("sdk-tmpl3@4.0.0")
    check(r.status_code == 404 and is_json_error(r),
          "a template of another version is not that release -> 404",
          "%d %s" % (r.status_code, r.text[:300]))

    # ------------------------------------------------ get: ids and slash forms
    cid = c1.get("id")
    ra, rbs = c.get_container(cid, slash=True), c.get_container(cid, slash=False)
    check(ra.status_code == 200 and rbs.status_code == 200 and
          ra.json().get("id") == cid == rbs.json().get("id"),
          "GET containers/{id}/ and containers/{id} both answer")
    r = c.get_container(dock1[:12])
    check(r.status_code == 200 and r.json().get("id") == cid,
          "GET by Docker id prefix (12)", r.text[:300])
    r = c.get_container(dock1)
    check(r.status_code == 200 and r.json().get("id") == cid,
          "GET by full Docker id")
    r = c.get_container(c1.get("app_id"))
    check(r.status_code == 200 and r.json().get("id") == cid,
          "GET by app_id")
    r = c.get_container(999999)
    check(r.status_code == 404 and is_json_error(r), "unknown id -> 404 JSON")

    # ------------------------------------------------ list and filters
    r = c.list_containers()
    lb = r.json() if r.status_code == 200 else {}
    check(r.status_code == 200 and set(lb) >= {"count", "next", "previous",
                                                "results"},
          "list is {count,next,previous,results}", r.text[:300])
    r = c.list_containers({"status": "running"})
    ids = [x["id"] for x in r.json().get("results", [])]
    check(c1.get("id") in ids and c2.get("id") in ids and
          all(x["status"] == "running" for x in r.json()["results"]),
          "status=running filter", ids)
    r = c.list_containers({"model": 101})
    check(r.json().get("count") == 1 and
          r.json()["results"][0]["id"] == c1.get("id"), "model filter")
    r = c.list_containers({"plugin_release": RELEASE})
    check(r.json().get("count") == 3, "plugin_release filter",
          r.json().get("count"))
    r = c.list_containers({"label": "archive"})
    check([x["id"] for x in r.json()["results"]] == [c1.get("id")],
          "label filter")
    r = c.list_containers([("label", "sdk"), ("label", "json")])
    check([x["id"] for x in r.json()["results"]] == [c2.get("id")],
          "two label filters: both must match")
    r = c.list_containers({"status": "bogus"})
    check(r.status_code == 400 and is_json_error(r),
          "unknown status filter -> 400 JSON")

    # ------------------------------------------------ PATCH stop / start
    r = c.update_container(c2.get("id"), "stopped")
    check(r.status_code == 200 and r.json().get("id") == c2.get("id"),
          "PATCH status=stopped -> 200 container", r.text[:300])
    st = wait_status(c, c2.get("id"), ("stopped",))
    check(st == "stopped", "container stops", st)
    dk = c.get_docker_container(c2.get("docker_id") or
                                (c.get_container(c2.get("id")).json()
                                 .get("docker_id") or "none"))
    check(dk.status_code == 200 and dk.json().get("running") is False,
          "Docker says it is not running", dk.text[:300])
    r = c.update_container(c2.get("id"), "running", slash=False)
    check(r.status_code == 200, "PATCH status=running (no slash) -> 200")
    st = wait_status(c, c2.get("id"), ("running",))
    check(st == "running", "container runs again", st)
    g = fetch(ep2)
    check(isinstance(g, requests.Response) and g.status_code == 200,
          "endpoint answers after start")
    r = c.update_container(c2.get("id"), "paused")
    check(r.status_code == 400 and is_json_error(r),
          "PATCH with another status -> 400 JSON")

    # ------------------------------------------------ docker level
    r = c.list_docker_containers()
    dl = r.json() if r.status_code == 200 else []
    check(r.status_code == 200 and isinstance(dl, list),
          "GET containers/docker/ -> list", r.text[:300])
    mine = [x for x in dl if x.get("id") == dock1]
    check(len(mine) == 1 and mine[0].get("running") is True,
          "the running container is listed, running", dl[:3])
    check(all("slipway.app" in (x.get("labels") or {}) for x in dl),
          "only slipway's containers are listed")
    check(all(set(x) >= {"id", "name", "image", "status", "running", "ports",
                         "labels", "created"} for x in dl),
          "docker entries have id,name,image,status,running,ports,labels,created")
    r = c.get_docker_container(dock1[:12])
    check(r.status_code == 200 and r.json().get("id") == dock1 and
          r.json().get("running") is True,
          "GET containers/docker/{id prefix} with running", r.text[:300])
    r = c.get_docker_container("0123456789ab")
    check(r.status_code == 404 and is_json_error(r),
          "unknown docker id -> 404 JSON")
    r = c.create_docker_container(RELEASE, params={"via": "docker"},
                                  envs={"ECHO_ENVS": "VIA", "VIA": "docker"},
                                  metadata={"k": "v"}, labels=["docker-api"])
    dc = r.json() if r.status_code in (200, 201) else {}
    check(r.status_code == 201 and "id" in dc and "docker_id" in dc,
          "POST containers/docker/ -> 201 {id, docker_id, ...}",
          "%d %s" % (r.status_code, r.text[:300]))
    created.append(dc.get("id"))
    bd, _ = wait_build(c, dc.get("build_id"))
    check(bd.get("status") == "completed", "its build completes", bd)
    ddid = (bd.get("result") or {}).get("docker_id") or "none"
    r = c.get_docker_container(ddid)
    check(r.status_code == 200 and r.json().get("running") is True,
          "get_docker_container(docker_id) running")
    r = c.delete_docker_container(ddid)
    check(r.status_code == 204, "DELETE containers/docker/{id} -> 204",
          "%d %s" % (r.status_code, r.text))
    r = c.get_container(dc.get("id"))
    check(r.status_code == 404, "its container record is gone")
    gone = False
    for _ in range(120):
        if not any(x.get("id") == ddid for x in
                   c.list_docker_containers().json()):
            gone = True
            break
        time.sleep(0.25)
    check(gone, "and Docker no longer has it")

    # ------------------------------------------------ delete
    r = c.delete_container(c3.get("id"))
    check(r.status_code == 204 and r.text == "", "DELETE containers/{id}/ -> 204")
    r = c.get_container(c3.get("id"))
    check(r.status_code == 404 and is_json_error(r), "deleted -> 404 JSON")
    r = c.delete_container(c3.get("id"), slash=False)
    check(r.status_code == 404 and is_json_error(r),
          "DELETE again (no slash) -> 404 JSON")

    # ------------------------------------------------ errors
    r = c.create_container("never-uploaded@9.9.9")
    check(r.status_code == 404 and is_json_error(r),
          "unknown release -> 404 JSON", "%d %s" % (r.status_code, r.text))
    r = c.request("post", "containers", data={"plugin_release":
                                              "never-uploaded@1.0"})
    check(r.status_code == 404 and is_json_error(r),
          "POST containers (no slash) answers, never redirects",
          "%d %s" % (r.status_code, r.text))
    r = c.request("post", "containers/", data={})
    check(r.status_code == 400 and is_json_error(r),
          "neither release nor file (JSON) -> 400 JSON", r.text)
    r = c.request("post", "containers/", data={"model": 5},
                  files={"unrelated": ("x.txt", io.BytesIO(b"x"))})
    check(r.status_code == 400 and is_json_error(r),
          "neither release nor file (multipart) -> 400 JSON", r.text)
    r = c.session.post(API + "/containers/", data=b'{"plugin_release": ',
                       headers={"Authorization": token,
                                "Content-Type": "application/json"},
                       timeout=10)
    check(r.status_code == 400 and is_json_error(r), "malformed JSON -> 400 JSON")
    for bad_body, what in (({"plugin_release": "no-version"}, "release without version"),
                           ({"plugin_release": "UPPER@1.0"}, "bad release name"),
                           ({"plugin_release": RELEASE, "model": "abc"}, "model not a number"),
                           ({"plugin_release": RELEASE, "model": -1}, "negative model"),
                           ({"plugin_release": RELEASE, "params": [1]}, "params not an object"),
                           ({"plugin_release": RELEASE, "labels": [1, 2]}, "labels not strings"),
                           ({"plugin_release": RELEASE, "envs": {"1BAD": "x"}}, "bad env name")):
        r = c.request("post", "containers/", data=bad_body)
        check(r.status_code == 400 and is_json_error(r),
              "%s -> 400 JSON" % what, "%d %s" % (r.status_code, r.text))
    r = c.create_container("other-plugin@2.0.0", plugin_file=archive)
    check(r.status_code == 400 and is_json_error(r) and
          r.json().get("code") == "release_mismatch",
          "archive whose config.yaml is another release -> 400", r.text)
    notplugin = os.path.join(WORK, "not-a-plugin.zip")
    with zipfile.ZipFile(notplugin, "w") as z:
        z.writestr("app.py", "print('hi')\n")
    r = c.create_container("x-plugin@1.0.0", plugin_file=notplugin)
    check(r.status_code == 400 and is_json_error(r),
          "archive that is not a plugin -> 400 JSON", r.text)

    # ------------------------------------------------ 20 concurrent creates
    def one_create(_):
        cl = AgentClient(API, token)
        try:
            return cl.create_container(RELEASE, model=200,
                                       labels=["concurrent"])
        except requests.RequestException as e:
            return e

    t0 = time.monotonic()
    rs = parallel(one_create, range(20), workers=20)
    diag("20 concurrent creates took %.2f s" % (time.monotonic() - t0))
    codes = [getattr(x, "status_code", str(x)) for x in rs]
    check(all(x in (200, 201) for x in codes),
          "20 concurrent creates all answer 200/201", codes)
    check(codes.count(201) == 1, "exactly one of them created it", codes)
    ids = {x.json().get("id") for x in rs if getattr(x, "status_code", 0)
           in (200, 201)}
    check(len(ids) == 1, "they all name the same container", ids)
    bids = {x.json().get("build_id") for x in rs
            if getattr(x, "status_code", 0) in (200, 201)}
    check(len(bids) == 1, "and the same build", bids)
    items, count, _ = c.list_all({"plugin_release": RELEASE, "model": 200})
    check(count == 1 and len(items) == 1,
          "exactly one container for the pair", count)
    created.extend(ids)
    bc, _ = wait_build(c, bids.pop() if bids else 0)
    check(bc.get("status") == "completed", "the one build completes", bc)

    # ------------------------------------------------ every app is a container
    up = requests.post(API + "/upload", headers={"Authorization": token},
                       data={"name": "plain-py-app"},
                       files={"file": ("echo_app.py", io.BytesIO(
                           b"import time\ntime.sleep(3600)\n"))},
                       timeout=10)
    check(up.status_code == 202, "a plain app uploaded through /upload",
          up.text[:300])
    plain_id = up.json().get("id") if up.status_code == 202 else None
    r = c.get_container(plain_id)
    check(r.status_code == 200 and r.json().get("plugin_release") is None and
          r.json().get("type") == "gradio",
          "a non-plugin app is a container too (plugin_release null)",
          r.text[:300])
    status = requests.get(API + "/status", headers={"Authorization": token},
                          timeout=10).json()
    items, count, _ = c.list_all()
    status_ids = sorted(a["row_id"] for a in status)
    cont_ids = sorted(x["id"] for x in items)
    check(status_ids == cont_ids and count == len(cont_ids),
          "GET /status and GET containers/ hold the same set (%d)" %
          len(cont_ids), "status %s\ncontainers %s" % (status_ids, cont_ids))

    # ------------------------------------------------ another user
    requests.post(API + "/register", data={"username": "bob",
                                           "password": "bob-password-1"},
                  timeout=10)
    bob = AgentClient(API, login("bob", "bob-password-1"))
    r = bob.list_containers()
    check(r.status_code == 200 and r.json().get("count") == 0,
          "another user lists none of admin's containers", r.text[:300])
    r = bob.get_container(c1.get("id"))
    check(r.status_code == 404, "nor gets one")
    r = bob.list_docker_containers()
    check(r.status_code == 200 and r.json() == [],
          "nor sees their Docker containers", r.text[:300])
    r = bob.create_container(RELEASE, model=101)
    check(r.status_code == 409 and is_json_error(r),
          "another user's (release, model) -> 409 JSON", r.text)
    r = bob.delete_docker_container(dock1)
    check(r.status_code == 404, "nor deletes it by Docker id")
    r = bob.create_container(RELEASE, model=500, plugin_file=archive)
    check(r.status_code == 409 and is_json_error(r) and
          r.json().get("code") == "release_owned",
          "another user cannot replace an uploaded release -> 409",
          "%d %s" % (r.status_code, r.text))
    r = bob.create_container(RELEASE, model=500)
    check(r.status_code == 201 and r.json().get("owner") == "bob",
          "but may run containers from it", r.text[:300])
    if r.status_code == 201:
        check(bob.delete_container(r.json()["id"]).status_code == 204,
              "and delete their own")

    # ------------------------------------------------ concurrent archive creates
    def one_upload(_):
        cl = AgentClient(API, token)
        return cl.create_container(RELEASE, model=201, plugin_file=archive)

    rs = parallel(one_upload, range(10), workers=10)
    codes = [x.status_code for x in rs]
    check(sorted(codes) == [200] * 9 + [201],
          "10 concurrent archive creates of one pair: one 201, nine 200",
          codes)
    ids = {x.json().get("id") for x in rs if x.status_code in (200, 201)}
    check(len(ids) == 1, "one container", ids)
    created.extend(ids)

    # ------------------------------------------------ pagination over 250
    def page_create(m):
        cl = AgentClient(API, token)
        return cl.create_container(RELEASE, model=m, labels=["page-test"])

    t0 = time.monotonic()
    rs = parallel(page_create, range(1000, 1250), workers=8)
    codes = [x.status_code for x in rs]
    diag("250 creates took %.2f s" % (time.monotonic() - t0))
    check(codes.count(201) == 250, "250 containers created", codes[:20])
    page_ids = [x.json()["id"] for x in rs if x.status_code == 201]
    items, count, urls = c.list_all({"label": "page-test"})
    got = [x["id"] for x in items]
    check(count == 250, "count is 250", count)
    check(sorted(got) == sorted(page_ids) and len(set(got)) == 250,
          "list_all follows next over every record once", len(got))
    check(got == sorted(got), "pages are in id order")
    check(len(urls) == 2 and all(u.startswith(API + "/containers/?")
                                 for u in urls),
          "page_size=100: two absolute next URLs from the Host", urls)
    check(all("label=page-test" in u and "page_size=100" in u for u in urls),
          "next keeps the filters and page_size", urls)
    r = c.list_containers({"label": "page-test"})
    body = r.json()
    check(len(body["results"]) == 20 and body["previous"] is None and
          "page=2" in (body["next"] or ""), "default page size 20", body.get("next"))
    r = c.list_containers({"label": "page-test", "page_size": 1000})
    check(len(r.json()["results"]) == 100, "page_size is capped at 100")
    r = c.list_containers({"label": "page-test", "page": 13})
    body = r.json()
    check(len(body["results"]) == 10 and body["next"] is None and
          "page=12" in (body["previous"] or ""), "last page of 20s")
    r = c.list_containers({"label": "page-test", "page": 14})
    check(r.status_code == 404 and is_json_error(r), "a page past the end -> 404")
    r = c.list_containers({"label": "page-test", "page": "x"})
    check(r.status_code == 400 and is_json_error(r), "page not a number -> 400")
    r = c.list_containers({"label": "page-test", "status": "building",
                           "page_size": 100})
    diag("%s of the 250 still building" % r.json().get("count"))
    t0 = time.monotonic()
    rs = parallel(lambda i: AgentClient(API, token).delete_container(i),
                  page_ids, workers=8)
    diag("250 deletes took %.2f s" % (time.monotonic() - t0))
    check(all(x.status_code == 204 for x in rs), "250 deleted")
    r = c.list_containers({"label": "page-test"})
    check(r.json().get("count") == 0, "and listed no more")

    # ------------------------------------------------ clean up
    for i in [x for x in created if x] + [plain_id]:
        c.delete_container(i)
    left = requests.get(API + "/status", headers={"Authorization": token},
                        timeout=10).json()
    check(left == [], "every container deleted", left)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        left = c.list_docker_containers().json()
        if left == []:
            break
        time.sleep(0.5)
    check(left == [], "and gone from containers/docker/", left)
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as e:	# report, do not hide: a crash fails the test
        import traceback
        print("not ok - conformance client crashed: %r" % e, flush=True)
        for line in traceback.format_exc().splitlines():
            print("#   " + line, flush=True)
        sys.exit(1)
    sys.exit(1 if failures else 0)
