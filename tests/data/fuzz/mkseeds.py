#!/usr/bin/env python3
"""Write seed corpora for tests/fuzz: mkseeds.py OUTDIR

OUTDIR/multipart/: bodies for fuzz_multipart (first byte: chunking seed).
OUTDIR/archive/:   small zip, tar and tar.gz files for fuzz_archive, good
                   and hostile (zip-slip, absolute names, escaping links,
                   hard links, devices, docker save layout).
Generated at fuzz time so no binary archive lives in the source tree.
"""
import io
import os
import sys
import tarfile
import zipfile

out = sys.argv[1] if len(sys.argv) > 1 else "seeds"
mp = os.path.join(out, "multipart")
ar = os.path.join(out, "archive")
os.makedirs(mp, exist_ok=True)
os.makedirs(ar, exist_ok=True)

CT = b"multipart/form-data; boundary=XyZ\n"
FIELD = b'--XyZ\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
FILE = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; '
        b'filename="%s"\r\nContent-Type: application/zip\r\n\r\n%s\r\n')
CLOSE = b"--XyZ--\r\n"
bodies = {
    "simple": b"\x00" + FIELD % (b"name", b"app") + CLOSE,
    "upload": b"\x05" + FIELD % (b"name", b"app") + FIELD % (b"labels", b"a")
              + FIELD % (b"labels", b"b") + FILE % (b"app.zip", b"PK\x03\x04..")
              + CLOSE,
    "ctype": b"\x81" + CT + FILE % (b"a.py", b"print(1)\r\n--XyZx") + CLOSE,
    "quoted": b"\x02--XyZ\r\nContent-Disposition: form-data; name=f; "
              b"filename=\"a\\\"b\"; filename*=UTF-8''%C3%A9.py\r\n\r\nx\r\n"
              + CLOSE,
    "padding": b"\x07preamble\r\n--XyZ \t\r\nContent-Disposition: form-data; "
               b"name=a\r\n\r\n\r\n--XyZ--  epilogue",
}
for name, body in bodies.items():
    with open(os.path.join(mp, name), "wb") as f:
        f.write(body)


def tar(name, members, mode="w"):
    with tarfile.open(os.path.join(ar, name), mode) as t:
        for m in members:
            info = tarfile.TarInfo(m[0])
            kind = m[1]
            if kind == "f":
                data = m[2]
                info.size = len(data)
                info.mode = m[3] if len(m) > 3 else 0o644
                t.addfile(info, io.BytesIO(data))
                continue
            if kind == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, m[2]
            elif kind == "h":
                info.type, info.linkname = tarfile.LNKTYPE, m[2]
            elif kind == "c":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "p":
                info.type = tarfile.FIFOTYPE
            t.addfile(info)


tar("good.tar", [("app/", "d"), ("app/app.py", "f", b"import gradio\n"),
                 ("app/run.sh", "f", b"#!/bin/sh\n", 0o4755),
                 ("app/l", "l", "app.py"), ("app/h", "h", "app/app.py")])
tar("good.tgz", [("./Dockerfile", "f", b"FROM scratch\n"),
                 ("./sub/x", "f", b"x" * 3000)], "w:gz")
tar("slip.tar", [("../x", "f", b"x"), ("/tmp/abs", "f", b"x")])
tar("links.tar", [("a/", "d"), ("a/up", "l", "../.."), ("s", "l", "a"),
                  ("s/x", "f", b"x"), ("h", "h", "../outside/keep"),
                  ("e", "l", "/etc")])
tar("dev.tar", [("null", "c"), ("fifo", "p")])
tar("docker.tar", [("3f5a/", "d"), ("3f5a/layer.tar", "f", b"\0" * 1024),
                   ("c0.json", "f", b"{}"),
                   ("manifest.json", "f",
                    b'[{"Config":"c0.json","Layers":["3f5a/layer.tar"]}]')])
tar("oci.tar", [("oci-layout", "f", b'{"imageLayoutVersion":"1.0.0"}'),
                ("index.json", "f", b'{"schemaVersion":2}')])

with zipfile.ZipFile(os.path.join(ar, "good.zip"), "w",
                     zipfile.ZIP_DEFLATED) as z:
    z.writestr("proj/app.py", "import gradio\n")
    z.writestr("proj/requirements.txt", "gradio\n")
    zi = zipfile.ZipInfo("proj/run.sh")
    zi.external_attr = (0o100755 << 16)
    z.writestr(zi, "#!/bin/sh\n")
    zi = zipfile.ZipInfo("proj/link")
    zi.external_attr = (0o120777 << 16)
    z.writestr(zi, "app.py")
    z.writestr("__MACOSX/proj/._app.py", "x")
with zipfile.ZipFile(os.path.join(ar, "slip.zip"), "w") as z:
    z.writestr("../../x", "x")
    zi = zipfile.ZipInfo("up")
    zi.external_attr = (0o120777 << 16)
    z.writestr(zi, "../x")
with zipfile.ZipFile(os.path.join(ar, "bomb.zip"), "w",
                     zipfile.ZIP_DEFLATED) as z:
    z.writestr("zeros", b"\0" * (2 << 20))
