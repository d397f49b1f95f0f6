#!/usr/bin/env python3
"""Latency of a slider move in alae serve: one POST /api/edit (a code moved along a direction,
decoded by G, answered as a PNG), the request the page sends while a slider moves, timed from
a client over loopback one at a time. Prints the median, p90 and min of N moves (docs/serve.md).

    serve_latency.py ALAE_TOOL (--model M | --preset NAME) [--moves 30] [--threads T]

--preset makes an untrained model of that preset with the Python package (untrained weights
time the same as trained ones); it needs ALAE_LIBRARY or a libalae the package finds, and numpy.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "serve"))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from serve_util import Server  # noqa: E402


def make_model(preset, path):
    import alae
    alae.Model.from_preset(preset, seed=1).save(path)


def timed(server, n, method, path, body):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _, data = server.request(method, path, body)
        times.append((time.perf_counter() - t0) * 1000)
        assert status == 200, (status, data[:200])
    return sorted(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("--model")
    ap.add_argument("--preset")
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="alae-serve-bench-")
    model = a.model
    if not model:
        model = os.path.join(work, a.preset + ".safetensors")
        make_model(a.preset, model)
    args = ["--model", model, "--workers", "1"] + (["--threads", str(a.threads)] if a.threads else [])
    s = Server(a.tool, work, args, name="bench")
    try:
        info = json.loads(s.request("GET", "/api/info")[2])
        w = json.loads(s.request("POST", "/api/generate?format=json", {"seed": 1})[2])["w"]
        png = s.request("POST", "/api/generate", {"seed": 1})[2]
        name = info["directions"][0]["name"]
        timed(s, 3, "POST", "/api/edit", {"w": w, "amounts": {name: 0.5}})  # plans made, caches warm
        moves = []
        for i in range(a.moves):
            moves += timed(s, 1, "POST", "/api/edit", {"w": w, "amounts": {name: -2 + 4.0 * i / a.moves}})
        moves.sort()
        recon = timed(s, 5, "POST", "/api/reconstruct", png)
        print("%s (%s, %d px, W of %d, %s, %s threads): slider move (POST /api/edit) median %.1f ms, p90 %.1f ms, "
              "min %.1f ms over %d moves; reconstruct median %.1f ms"
              % (os.path.basename(model), info["arch"], info["image_size"], info["latent_dim"], info["device"],
                 s.stdout().split("worker, ")[1].split(" thread")[0], statistics.median(moves),
                 moves[int(0.9 * (len(moves) - 1))], moves[0], len(moves), statistics.median(recon)))
    finally:
        s.stop()


if __name__ == "__main__":
    main()
