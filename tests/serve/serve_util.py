"""Helpers of the alae serve tests: start a server on a free port, talk HTTP to it over
loopback, stop it with a signal. Standard library only."""
import http.client
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time

SKIP_CODE = 77


def skip(reason):
    print("SKIPPED: %s" % reason, flush=True)
    sys.exit(SKIP_CODE)


class Server:
    """`alae serve --port 0 ...` with its stdout and stderr in files of workdir."""

    def __init__(self, alae, workdir, args, name="serve"):
        self.out_path = os.path.join(workdir, name + ".out")
        self.err_path = os.path.join(workdir, name + ".err")
        self.tmp = os.path.join(workdir, name + "-tmp")
        os.makedirs(self.tmp, exist_ok=True)
        env = dict(os.environ, TMPDIR=self.tmp)
        self.proc = subprocess.Popen([alae, "serve", "--port", "0"] + list(args), stdout=open(self.out_path, "w"),
                                     stderr=open(self.err_path, "w"), env=env)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        deadline = time.time() + 120
        while time.time() < deadline:
            with open(self.out_path) as f:
                text = f.read()
            if "http://" in text:
                return int(text.split("http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
            if self.proc.poll() is not None:
                raise AssertionError("alae serve exited with %d: %s" % (self.proc.returncode, self.stderr()))
            time.sleep(0.05)
        raise AssertionError("alae serve did not start within 120 s")

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def stdout(self):
        with open(self.out_path) as f:
            return f.read()

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self, sig=signal.SIGTERM):
        """Sends sig and waits; returns the exit status."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("alae serve did not stop within 120 s of the signal")

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers dict with lower-case names, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()


def raw_exchange(port, data, timeout=120):
    """Sends raw bytes (a whole request), reads to the end; (status, body bytes). The server may
    answer before it has read everything (413 on Content-Length): sending then stops."""
    import socket
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
            head, sep, body = reply.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    finally:
        sock.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def png_size(data):
    """(width, height) of PNG bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG: %r" % data[:40]
    return struct.unpack(">II", data[16:24])


def error_of(status, headers, body):
    assert headers.get("content-type") == "application/json", headers
    doc = json.loads(body)
    assert isinstance(doc.get("error"), str) and doc["error"], doc
    return doc["error"]
