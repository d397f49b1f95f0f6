"""alae serve end to end over loopback: every route and every error path, on an MLP and a
StyleALAE model, the queue cap (503), the bind check, and a clean stop on SIGINT and SIGTERM.

    test_serve_api.py ALAE MAKE_MODELS WORKDIR
"""
import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server, error_of, png_size, raw_exchange  # noqa: E402

ALAE, MAKE_MODELS, WORK = sys.argv[1:4]
checks = 0


def expect(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def expect_error(server, status, needle, method, path, body=None, headers=None):
    got, hdrs, data = server.request(method, path, body, headers)
    expect(got == status, "%s %s: status %d, expected %d (%r)" % (method, path, got, status, data[:200]))
    msg = error_of(got, hdrs, data)
    expect(needle in msg, "%s %s: error %r lacks %r" % (method, path, msg, needle))
    expect("alae-serve-" not in msg and "alae_" not in msg, "the error shows server internals: %r" % msg)


def ok(server, method, path, body=None, headers=None, ctype=None):
    status, hdrs, data = server.request(method, path, body, headers)
    expect(status == 200, "%s %s: status %d (%r)" % (method, path, status, data[:300]))
    if ctype:
        expect(hdrs.get("content-type", "").startswith(ctype), "%s %s: content type %r" % (method, path, hdrs))
    return data


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width, height):
    """A PNG that announces width x height (and holds one row of data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + \
        png_chunk(b"IEND", b"")


def npy_bytes(shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join("%d, " % d for d in shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<%df" % len(values), *values)


def data_url_png(url):
    expect(url.startswith("data:image/png;base64,"), "not a PNG data URL: %r" % url[:40])
    return base64.b64decode(url.split(",", 1)[1])


def mlp_routes(s, latent, side):
    info = json.loads(ok(s, "GET", "/api/info", ctype="application/json"))
    expect(info["arch"] == "mlp" and info["latent_dim"] == latent and info["image_size"] == side, info)
    expect(info["sliders"] == "principal components" and [d["name"] for d in info["directions"]][:2] == ["pc1", "pc2"],
           info["directions"])
    expect(all(d["sigma"] > 0 for d in info["directions"]), "component spreads must be positive")
    expect(info["directions"][0]["sigma"] >= info["directions"][-1]["sigma"], "components sorted by spread")
    expect(ok(s, "HEAD", "/api/info") == b"", "HEAD has no body")
    page = ok(s, "GET", "/", ctype="text/html")
    expect(b"<title>alae serve</title>" in page and b"/api/edit" in page, "the page is served")

    png1 = ok(s, "POST", "/api/generate", {"seed": 3}, ctype="image/png")
    expect(png_size(png1) == (side, side), "generate: %r" % (png_size(png1),))
    expect(ok(s, "POST", "/api/generate", {"seed": 3}) == png1, "generate is deterministic")
    expect(ok(s, "POST", "/api/generate", {"seed": 4}) != png1, "another seed, another image")
    expect(png_size(ok(s, "POST", "/api/generate", b"")) == (side, side), "generate with an empty body")
    gen = json.loads(ok(s, "POST", "/api/generate?format=json", {"seed": 3}, ctype="application/json"))
    expect(len(gen["w"]) == latent and data_url_png(gen["image"]) == png1, "generate as JSON")
    expect(png_size(ok(s, "POST", "/api/generate", {"z": [0.5] * latent, "truncation": 0.5})) == (side, side), "z in")

    # decode: a code, a batch, a .npy body
    expect(ok(s, "POST", "/api/decode", {"w": gen["w"]}, ctype="image/png") == png1, "decode(F(z)) == generate(z)")
    strip = ok(s, "POST", "/api/decode", {"w": [gen["w"]] * 3})
    expect(png_size(strip) == (3 * side + 4, side), "a batch of 3 codes: %r" % (png_size(strip),))
    expect(ok(s, "POST", "/api/decode", npy_bytes([latent], gen["w"])) == png1, "a .npy code")
    expect(png_size(ok(s, "POST", "/api/decode", npy_bytes([2, latent], gen["w"] * 2)))[0] == 2 * side + 2, ".npy batch")

    # encode, reconstruct, invert: an image in
    enc = json.loads(ok(s, "POST", "/api/encode", png1, ctype="application/json"))
    expect(len(enc["w"]) == latent, "encode: %d numbers" % len(enc["w"]))
    npy = ok(s, "POST", "/api/encode?format=npy", png1, ctype="application/octet-stream")
    expect(npy[:6] == b"\x93NUMPY" and b"(1, %d)" % latent in npy[:128], "encode as .npy: %r" % npy[:80])
    w_npy = struct.unpack("<%df" % latent, npy[-4 * latent:])
    expect(max(abs(a - b) for a, b in zip(w_npy, enc["w"])) < 1e-5, ".npy and JSON codes agree")
    rec = ok(s, "POST", "/api/reconstruct", png1, ctype="image/png")
    expect(rec == ok(s, "POST", "/api/decode", {"w": enc["w"]}), "reconstruct is G(E(x))")
    recj = json.loads(ok(s, "POST", "/api/reconstruct?format=json", png1))
    expect(data_url_png(recj["image"]) == rec and data_url_png(recj["input"]) == png1, "reconstruct as JSON")
    expect(0 < recj["psnr"] <= 100, "psnr %r" % recj["psnr"])
    inv = json.loads(ok(s, "POST", "/api/invert?steps=20", png1, ctype="application/json"))
    expect(inv["steps"] == 20 and inv["psnr_after"] >= inv["psnr_before"] - 1e-6, "invert: %r" % inv)
    expect(abs(inv["psnr_before"] - recj["psnr"]) < 0.01, "invert starts from E(x)")
    expect(png_size(ok(s, "POST", "/api/invert?steps=0&format=png", png1)) == (side, side), "invert as PNG")

    # edit: zero amounts decode w; an amount changes the picture; the JSON code moved along pc1
    expect(ok(s, "POST", "/api/edit", {"w": gen["w"], "amounts": {}}) == png1, "edit by nothing")
    moved = ok(s, "POST", "/api/edit", {"w": gen["w"], "amounts": {"pc1": 2}}, ctype="image/png")
    expect(moved != png1, "a slider moves the picture")
    editj = json.loads(ok(s, "POST", "/api/edit?format=json", {"w": gen["w"], "amounts": {"pc1": 2}}))
    delta = sum((a - b) ** 2 for a, b in zip(editj["w"], gen["w"])) ** 0.5
    expect(abs(delta - 2 * info["directions"][0]["sigma"]) < 1e-3 * max(1, delta), "moved 2 sigma: %r" % delta)
    expect(ok(s, "POST", "/api/edit", {"w": gen["w"], "truncation": 0.0}) != png1, "truncation 0 changes it")

    ia = ok(s, "POST", "/api/interpolate", {"a": gen["w"], "b": enc["w"], "steps": 5}, ctype="image/png")
    expect(png_size(ia) == (5 * side + 8, side), "interpolation strip %r" % (png_size(ia),))
    expect(png_size(ok(s, "POST", "/api/interpolate", {"a": gen["w"], "b": enc["w"]}))[0] == 8 * side + 14, "8 steps")
    return gen["w"], png1


def mlp_errors(s, w, png1, latent):
    e = lambda *a, **k: expect_error(s, *a, **k)  # noqa: E731
    e(404, "no route", "GET", "/api/nothing")
    e(404, "no route", "GET", "/etc/passwd")
    e(404, "no route", "GET", "/../api/info")
    e(405, "answers POST", "GET", "/api/encode")
    e(405, "answers GET", "POST", "/api/info")
    e(405, "answers GET", "DELETE", "/")
    # bodies
    e(400, "needs an image", "POST", "/api/encode")
    e(415, "not a PNG, JPEG or BMP", "POST", "/api/encode", b"hello")
    e(415, "not a PNG, JPEG or BMP", "POST", "/api/reconstruct", b"{}")
    e(413, "4096", "POST", "/api/encode", png_header_only(5000, 10))
    e(400, "cannot decode", "POST", "/api/encode", png1[:60])
    e(400, "cannot decode", "POST", "/api/invert", png1[:-20])
    bmp = b"BM" + b"\0" * 8 + struct.pack("<IIiiHH", 54, 40, 4, 4, 1, 24)
    e(400, "cannot decode the image: the upload", "POST", "/api/encode", bmp)
    # too large: announced (answered before the body is read), or chunked (read and dropped)
    status, body = raw_exchange(s.port, b"POST /api/encode HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                                % ((16 << 20) + 1) + b"\0" * 4096)
    expect(status == 413 and b"larger than the 16777216 bytes" in body, "announced size: %d %r" % (status, body))
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    status, body = raw_exchange(s.port, b"POST /api/edit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                + chunk * 17 + b"0\r\n\r\n")
    expect(status == 413 and b"larger than the 1048576 bytes" in body, "chunked size: %d %r" % (status, body))
    e(400, "JSON object as its body", "POST", "/api/edit")
    e(400, "malformed JSON", "POST", "/api/edit", b"{\"w\": [1, 2")
    e(400, "malformed JSON", "POST", "/api/edit", b"{\"w\": NaN}")
    e(400, "malformed JSON", "POST", "/api/edit", b"[[[[[[1]]]]]]")
    e(400, "malformed JSON", "POST", "/api/edit", b"{} trailing")
    e(400, "too many items", "POST", "/api/decode", b"{\"w\": [" + b"[0,0,0,0]," * 70000 + b"[0]]}")
    e(400, "must be a JSON object", "POST", "/api/edit", b"[1, 2]")
    e(400, "'w' is missing", "POST", "/api/edit", {})
    e(400, "array of %d numbers" % latent, "POST", "/api/edit", {"w": [1, 2]})
    e(400, "'w'[1] must be a number", "POST", "/api/edit", {"w": [0, "x"] + [0] * (latent - 2)})
    e(400, "magnitude", "POST", "/api/decode", {"w": [1e9] * latent})
    e(400, "no direction called 'smile'", "POST", "/api/edit", {"w": w, "amounts": {"smile": 1}})
    e(400, "pc1", "POST", "/api/edit", {"w": w, "amounts": {"smile": 1}})
    e(400, "'amounts' must be an object", "POST", "/api/edit", {"w": w, "amounts": [1]})
    e(400, "amount of 'pc1'", "POST", "/api/edit", {"w": w, "amounts": {"pc1": "a lot"}})
    e(400, "'truncation'", "POST", "/api/edit", {"w": w, "truncation": 3})
    e(400, "'truncation'", "POST", "/api/decode", {"w": w, "truncation": "x"})
    e(413, "at most 16", "POST", "/api/decode", {"w": [w] * 17})
    e(400, ".npy body must be", "POST", "/api/decode", npy_bytes([latent + 1], [0] * (latent + 1)))
    e(400, "not finite", "POST", "/api/decode", npy_bytes([latent], [float("nan")] * latent))
    e(400, "cannot read the .npy body", "POST", "/api/decode", b"\x93NUMPY\x01\x00\xff")
    e(413, "at most 16", "POST", "/api/decode", npy_bytes([17, latent], [0] * (17 * latent)))
    e(400, "'seed' must be an integer", "POST", "/api/generate", {"seed": -1})
    e(400, "'seed' must be an integer", "POST", "/api/generate", {"seed": 1.5})
    e(400, "'z' must be an array", "POST", "/api/generate", {"z": 1})
    e(400, "'steps' must be an integer from 2 to 16", "POST", "/api/interpolate", {"a": w, "b": w, "steps": 17})
    e(400, "'b' is missing", "POST", "/api/interpolate", {"a": w})
    e(400, "'steps' must be an integer from 0 to 500", "POST", "/api/invert?steps=501", png1)
    e(400, "'steps' must be an integer from 0 to 500", "POST", "/api/invert?steps=x", png1)
    e(400, "unknown format 'gif'", "POST", "/api/generate?format=gif", {})
    e(400, "unknown format 'png'", "POST", "/api/encode?format=png", png1)
    e(400, "needs a StyleALAE model", "POST", "/api/mix", {"src": w, "dst": w})
    # a connection that is cut in the middle of a body leaves the server working
    import socket
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.sendall(b"POST /api/encode HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + png1[:100])
    sock.close()
    expect(ok(s, "POST", "/api/generate", {"seed": 3}) == png1, "still answering after a cut connection")


def style_routes(s, latent, side):
    info = json.loads(ok(s, "GET", "/api/info"))
    expect(info["arch"] == "style" and info["style_count"] == 8 and info["image_size"] == side, info)
    expect(info["groups"] == {"coarse": [0, 3], "middle": [4, 7]}, "layer groups of a 32 px model: %r" % info["groups"])
    expect([d["name"] for d in info["directions"]] == ["slant", "thick"], "--directions: %r" % info["directions"])
    expect(info["sliders"] == "directions" and info["directions"][1]["accuracy"] == 0.9, info["directions"])
    a = json.loads(ok(s, "POST", "/api/generate?format=json", {"seed": 1}))
    b = json.loads(ok(s, "POST", "/api/generate?format=json", {"seed": 2}))
    pa, pb = data_url_png(a["image"]), data_url_png(b["image"])
    expect(png_size(pa) == (side, side) and pa != pb, "StyleALAE samples")
    expect(ok(s, "POST", "/api/generate", {"seed": 1}) == pa, "noise is fixed per request")
    coarse = ok(s, "POST", "/api/mix", {"src": a["w"], "dst": b["w"], "layers": "coarse"}, ctype="image/png")
    middle = ok(s, "POST", "/api/mix", {"src": a["w"], "dst": b["w"], "layers": "middle"})
    expect(png_size(coarse) == (side, side) and coarse not in (pa, pb) and middle != coarse, "mixes differ")
    expect(ok(s, "POST", "/api/mix", {"src": a["w"], "dst": b["w"]}) == coarse, "coarse is the default group")
    expect(ok(s, "POST", "/api/mix", {"src": a["w"], "dst": a["w"]}) == pa, "mixing a with itself gives a")
    expect_error(s, 400, "\"coarse\", \"middle\" or \"fine\"", "POST", "/api/mix",
                 {"src": a["w"], "dst": b["w"], "layers": "fine"})
    expect_error(s, 400, "'dst' is missing", "POST", "/api/mix", {"src": a["w"]})
    moved = ok(s, "POST", "/api/edit", {"w": a["w"], "amounts": {"thick": 1.5, "slant": -1}})
    expect(moved != pa, "a direction moves the picture")
    rec = json.loads(ok(s, "POST", "/api/reconstruct?format=json", pa))
    expect(png_size(data_url_png(rec["image"])) == (side, side), "StyleALAE reconstruct")
    inv = json.loads(ok(s, "POST", "/api/invert?steps=5", pa))
    expect(inv["psnr_after"] >= inv["psnr_before"] - 1e-6, "StyleALAE inversion %r" % inv)
    return a["w"]


def queue_full(models):
    """One worker, room for one waiting request: among 4 slow requests sent at once, some get 503."""
    s = Server(ALAE, WORK, ["--model", models + "/style.safetensors", "--workers", "1", "--queue", "1",
                            "--threads", "1"], name="queue")
    try:
        png = ok(s, "POST", "/api/generate", {"seed": 1})
        statuses = []

        def slow():
            statuses.append(s.request("POST", "/api/invert?steps=200", png)[0])
        threads = [threading.Thread(target=slow) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # at most 2 accepted (1 running, 1 waiting; 1 only when the second comes before the worker has
        # taken the first), the others refused at once
        expect(sorted(set(statuses)) == [200, 503] and statuses.count(200) <= 2, "queue cap: %r" % statuses)
        expect(ok(s, "GET", "/api/info") != b"", "info answers without a worker")
    finally:
        rc = s.stop(signal.SIGINT)
    expect(rc == 0 and "SIGINT: stopping" in s.stdout(), "SIGINT stop: %d %r" % (rc, s.stdout()))


def bad_command_lines(models):
    def run(args):
        p = subprocess.run([ALAE, "serve"] + args, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stderr
    rc, err = run(["--model", models + "/mlp.safetensors", "--bind", "localhost", "--port", "0"])
    expect(rc == 1 and "not an IPv4 or IPv6 address" in err, "bad --bind: %d %r" % (rc, err))
    rc, err = run(["--port", "0"])
    expect(rc == 2 and "--model" in err, "missing --model: %d %r" % (rc, err))
    rc, err = run(["--model", models + "/missing.safetensors", "--port", "0"])
    expect(rc == 1 and "missing.safetensors" in err, "missing model: %d %r" % (rc, err))
    rc, err = run(["--model", models + "/style.safetensors", "--directions", models + "/mlp.safetensors"])
    expect(rc == 1, "a model file as --directions: %d %r" % (rc, err))
    rc, err = run(["--model", models + "/mlp.safetensors", "--port", "70000"])
    expect(rc == 2, "--port out of range: %d" % rc)
    s = Server(ALAE, WORK, ["--model", models + "/mlp.safetensors", "--bind", "0.0.0.0", "--workers", "1"], name="any")
    rc = s.stop()
    expect(rc == 0 and "warning: listening on 0.0.0.0" in s.stderr(), "non-loopback warning: %r" % s.stderr())


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    models = os.path.join(WORK, "models")
    os.makedirs(models)
    subprocess.run([MAKE_MODELS, models], check=True, timeout=300)

    s = Server(ALAE, WORK, ["--model", models + "/mlp.safetensors", "--workers", "2", "--threads", "1"], name="mlp")
    try:
        w, png1 = mlp_routes(s, 16, 28)
        mlp_errors(s, w, png1, 16)
    finally:
        rc = s.stop()
    expect(rc == 0 and "SIGTERM: stopping" in s.stdout(), "SIGTERM stop: %d %r %r" % (rc, s.stdout(), s.stderr()))
    expect(os.listdir(s.tmp) == [], "the upload folder is removed at exit: %r" % os.listdir(s.tmp))

    s = Server(ALAE, WORK, ["--model", models + "/style.safetensors", "--directions", models + "/dirs.safetensors",
                            "--workers", "2", "--threads", "1"], name="style")
    try:
        style_routes(s, 16, 32)
    finally:
        rc = s.stop()
    expect(rc == 0, "StyleALAE server stop: %d %r" % (rc, s.stderr()))

    queue_full(models)
    bad_command_lines(models)
    print("serve_api: %d checks passed" % checks)


if __name__ == "__main__":
    main()
