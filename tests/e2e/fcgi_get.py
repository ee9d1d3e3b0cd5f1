#!/usr/bin/python3
"""fcgi_get.py SOCKET PATH: one GET straight to the FastCGI workers' unix
socket, without nginx (used while nginx is down).  Prints the status code,
a newline and the body; exit 1 when nobody answers."""
import socket
import struct
import sys


def record(rtype, content, req_id=1):
    return struct.pack("!BBHHBB", 1, rtype, req_id, len(content), 0, 0) + content


def pair(name, value):
    def length(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    n, v = name.encode(), value.encode()
    return length(len(n)) + length(len(v)) + n + v


def main():
    sock_path, path = sys.argv[1], sys.argv[2]
    params = {
        "REQUEST_METHOD": "GET", "REQUEST_URI": path, "DOCUMENT_URI": path,
        "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "CONTENT_LENGTH": "0",
        "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_ID": "fcgi-get",
    }
    body = b"".join(pair(k, v) for k, v in params.items())
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(sock_path)
        s.sendall(record(1, struct.pack("!HB5x", 1, 0)) + record(4, body) +
                  record(4, b"") + record(5, b""))
        out, buf = b"", b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            done = False
            while len(buf) >= 8:
                _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                if rtype == 6:
                    out += buf[8:8 + clen]
                elif rtype == 3:
                    done = True
                buf = buf[8 + clen + plen:]
            if done:
                break
    except OSError as e:
        print("000\n%s" % e)
        return 1
    head, _, content = out.partition(b"\r\n\r\n")
    status = "200"
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            status = line.split()[1].decode()
    print(status)
    sys.stdout.write(content.decode("utf-8", "replace") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
