#!/usr/bin/python3
"""bench/make-image-tar.py OUT.tar MIB TAG BUSYBOX LABEL=VALUE...

Writes a `docker save` tarball (legacy layout: manifest.json, config,
<layer>/layer.tar) of a FROM-scratch image tagged TAG whose one layer holds
BUSYBOX as /bin/busybox, /www/index.html and a MIB MiB file of pseudo-random
bytes (/big.bin); its command serves /www on $PORT with busybox httpd.
Made directly (no docker build of a 1 GiB context): a few seconds."""
import hashlib
import io
import json
import os
import random
import sys
import tarfile
import time

out, mib, tag, busybox = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
labels = dict(a.split("=", 1) for a in sys.argv[5:])
work = out + ".d"
os.makedirs(work, exist_ok=True)
layer = os.path.join(work, "layer.tar")
rng = random.Random(int(time.time()))


class Big(io.RawIOBase):
    """MIB MiB of pseudo-random bytes, read in chunks."""
    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        if n == 0:
            return 0
        b[:n] = rng.randbytes(n)
        self.left -= n
        return n


def add(t, name, data=None, mode=0o644, kind=tarfile.REGTYPE, size=None, fobj=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = kind, mode, 0
    if kind == tarfile.REGTYPE:
        ti.size = len(data) if data is not None else size
        t.addfile(ti, io.BytesIO(data) if data is not None else fobj)
    else:
        t.addfile(ti)


with open(layer, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as t:
    add(t, "bin", kind=tarfile.DIRTYPE, mode=0o755)
    with open(busybox, "rb") as b:
        add(t, "bin/busybox", b.read(), 0o755)
    add(t, "www", kind=tarfile.DIRTYPE, mode=0o755)
    add(t, "www/index.html", b"from a 1 GiB docker save tarball\n")
    size = mib << 20
    add(t, "big.bin", size=size, fobj=io.BufferedReader(Big(size), 4 << 20))
h = hashlib.sha256()
with open(layer, "rb") as f:
    while True:
        d = f.read(8 << 20)
        if not d:
            break
        h.update(d)
diff_id = "sha256:" + h.hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {
        "Env": ["PATH=/bin"],
        "Cmd": ["/bin/busybox", "sh", "-c", "exec /bin/busybox httpd -f -p $PORT -h /www"],
        "Labels": labels,
    },
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created_by": "bench/make-image-tar.py"}],
}, sort_keys=True).encode()
cfg_name = hashlib.sha256(config).hexdigest() + ".json"
layer_dir = h.hexdigest()
manifest = json.dumps([{"Config": cfg_name, "RepoTags": [tag],
                        "Layers": [layer_dir + "/layer.tar"]}]).encode()
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    add(t, layer_dir, kind=tarfile.DIRTYPE, mode=0o755)
    add(t, layer_dir + "/VERSION", b"1.0")
    with open(layer, "rb") as f:
        add(t, layer_dir + "/layer.tar", size=os.path.getsize(layer), fobj=f)
    add(t, cfg_name, config)
    add(t, "manifest.json", manifest)
os.unlink(layer)
os.rmdir(work)
