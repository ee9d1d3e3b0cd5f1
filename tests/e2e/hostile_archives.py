#!/usr/bin/python3
"""hostile_archives.py OUTDIR TAG: writes hostile upload files into OUTDIR
and prints one line per file: "<file> <what it tries>".  TAG names the
absolute paths the archives aim at (/tmp/slipway-hostile-TAG/...), so the
test can check that nothing appeared there.  Fast: a few seconds."""
import io
import os
import struct
import sys
import tarfile
import warnings
import zipfile
import zlib

warnings.simplefilter("ignore")	# zipfile warns about the duplicate name

out, tag = sys.argv[1], sys.argv[2]
ABS = "/tmp/slipway-hostile-%s" % tag
DOCKERFILE = b"FROM scratch\nCOPY . /\n"
made = []


def path(name):
    return os.path.join(out, name)


def zip_write(name, what, entries, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path(name), "w", method) as z:
        for e in entries:
            z.writestr(e[0], e[1])
    made.append((name, what))


def tar_write(name, what, members, mode="w"):
    with tarfile.open(path(name), mode, format=tarfile.GNU_FORMAT) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    made.append((name, what))


def reg(name, data=b"x\n", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), mode
    return ti, data


def special(name, kind, target=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    ti.mode = 0o777 if kind == tarfile.SYMTYPE else 0o644
    if kind == tarfile.CHRTYPE:
        ti.devmajor, ti.devminor = 1, 3
    return ti, None


def zip_symlink(name, target):
    zi = zipfile.ZipInfo(name)
    zi.create_system = 3
    zi.external_attr = (0o120777 << 16)
    return zi, target.encode()


# ---- path escapes
zip_write("zip-slip.zip", "zip-slip ../../ entry",
          [("Dockerfile", DOCKERFILE), ("../../slipway-hostile-slip.txt", b"pwned\n")])
zip_write("zip-slip-nested.zip", "a name with ../ inside a folder",
          [("app/Dockerfile", DOCKERFILE), ("app/../../../slipway-hostile-nested.txt", b"pwned\n")])
zip_write("dotdot-inside.zip", "a ../ that stays inside (refused all the same)",
          [("Dockerfile", DOCKERFILE), ("a/../b.txt", b"x\n")])
zip_write("absolute.zip", "absolute path in a zip",
          [("Dockerfile", DOCKERFILE), (ABS + "/abs-zip.txt", b"pwned\n")])
tar_write("absolute.tar", "absolute path in a tar",
          [reg("Dockerfile", DOCKERFILE), reg(ABS + "/abs-tar.txt", b"pwned\n")])
tar_write("dotdot.tar", "a ../ entry in a tar",
          [reg("Dockerfile", DOCKERFILE), reg("../slipway-hostile-tar.txt", b"pwned\n")])
# ---- links
tar_write("symlink-etc.tar", "symlink to /etc, then a file through it",
          [reg("Dockerfile", DOCKERFILE), special("etc", tarfile.SYMTYPE, "/etc"),
           reg("etc/slipway-hostile-%s" % tag, b"pwned\n")])
tar_write("symlink-abs.tar", "a symlink to /etc/passwd",
          [reg("Dockerfile", DOCKERFILE), special("passwd", tarfile.SYMTYPE, "/etc/passwd")])
tar_write("symlink-up.tar", "a symlink to ../../..",
          [reg("Dockerfile", DOCKERFILE), special("up", tarfile.SYMTYPE, "../../.."),
           reg("up/slipway-hostile-up.txt", b"pwned\n")])
zip_write("symlink.zip", "a zip symlink entry to /etc",
          [("Dockerfile", DOCKERFILE), zip_symlink("etc", "/etc")])
tar_write("hardlink-abs.tar", "a hard link to /etc/passwd",
          [reg("Dockerfile", DOCKERFILE), special("passwd", tarfile.LNKTYPE, "/etc/passwd")])
tar_write("hardlink-up.tar", "a hard link to ../../../etc/passwd",
          [reg("Dockerfile", DOCKERFILE), special("passwd", tarfile.LNKTYPE, "../../../etc/passwd")])
# ---- special files
tar_write("device.tar", "a character device node",
          [reg("Dockerfile", DOCKERFILE), special("null", tarfile.CHRTYPE)])
tar_write("fifo.tar", "a fifo",
          [reg("Dockerfile", DOCKERFILE), special("pipe", tarfile.FIFOTYPE)])
# ---- sizes
with zipfile.ZipFile(path("entries-100k.zip"), "w", zipfile.ZIP_STORED) as z:
    z.writestr("Dockerfile", DOCKERFILE)
    for i in range(100000):
        z.writestr("f/%06d" % i, b"")
made.append(("entries-100k.zip", "10^5 entries"))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
    ti, d = reg("Dockerfile", DOCKERFILE)
    t.addfile(ti, io.BytesIO(d))
    for i in range(100000):
        t.addfile(tarfile.TarInfo("f/%06d" % i))
with open(path("entries-100k.tar.gz"), "wb") as f:
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    f.write(c.compress(buf.getvalue()) + c.flush())
del buf
made.append(("entries-100k.tar.gz", "10^5 entries in a tar.gz"))


def bomb_declared(name):
    """About 1 KB: one deflated entry whose headers (zip64) declare 10 GB."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = c.compress(b"\0" * (1 << 20)) + c.flush()
    big, crc, fname = 10 * (1 << 30), zlib.crc32(b"\0" * (1 << 20)), b"zeros.bin"
    z64 = struct.pack("<HHQQ", 1, 16, big, len(data))
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 8, 0, 0, crc,
                        0xffffffff, 0xffffffff, len(fname), len(z64)) + fname + z64
    z64c = struct.pack("<HHQQQ", 1, 24, big, len(data), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 8, 0, 0, crc,
                          0xffffffff, 0xffffffff, len(fname), len(z64c), 0, 0, 0, 0,
                          0xffffffff) + fname + z64c
    cd_off = len(local) + len(data)
    eocd64 = struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, 1, 1,
                         len(central), cd_off)
    loc64 = struct.pack("<IIQI", 0x07064b50, 0, cd_off + len(central), 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(central), cd_off, 0)
    with open(path(name), "wb") as f:
        f.write(local + data + central + eocd64 + loc64 + eocd)
    made.append((name, "a %d-byte zip that declares 10 GB" % os.path.getsize(path(name))))


bomb_declared("bomb-10g.zip")
# Honest sizes, 1000x expansion: the ratio cap must stop it (16 MiB floor).
zeros = b"\0" * (128 << 20)
zip_write("bomb-ratio.zip", "128 MiB of zeros deflated to ~130 KB (ratio ~1000)",
          [("Dockerfile", DOCKERFILE), ("zeros.bin", zeros)])
tar_write("bomb-ratio.tar.gz", "a tar.gz of 128 MiB of zeros (ratio ~1000)",
          [reg("Dockerfile", DOCKERFILE), reg("zeros.bin", zeros)], "w:gz")
del zeros
# ---- malformed
with open(path("invalid.zip"), "wb") as f:
    f.write(b"PK\x03\x04" + os.urandom(4096))
made.append(("invalid.zip", "a zip signature followed by garbage"))
zip_write("whole.zip", "(source of truncated.zip)", [("Dockerfile", DOCKERFILE), ("a.bin", os.urandom(8192))])
with open(path("whole.zip"), "rb") as f:
    data = f.read()
with open(path("truncated.zip"), "wb") as f:
    f.write(data[:len(data) // 2])
os.unlink(path("whole.zip"))
made.pop()
made.append(("truncated.zip", "a zip cut in half"))
with open(path("random.tar.gz"), "wb") as f:
    f.write(b"\x1f\x8b\x08\x00" + os.urandom(4096))
made.append(("random.tar.gz", "a gzip header followed by garbage"))
open(path("empty.zip"), "wb").close()
made.append(("empty.zip", "an empty file"))
# ---- duplicates
zip_write("duplicate.zip", "the same name twice in a zip",
          [("Dockerfile", DOCKERFILE), ("Dockerfile", b"FROM scratch\n")])
tar_write("duplicate.tar", "the same name twice in a tar",
          [reg("Dockerfile", DOCKERFILE), reg("Dockerfile", b"FROM scratch\n")])

for name, what in made:
    print("%s %s" % (name, what))
