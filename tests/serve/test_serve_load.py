"""Load test of alae serve: 2,000 requests from 16 concurrent clients over mixed routes, 10% of
them malformed, against the small MLP model (2 workers, 1 thread each, queue 64).

Checks: every valid request gets 200 and every malformed one a 4xx with a JSON error (none
fails otherwise, no 5xx, no dropped connection); the server's memory stays flat: its RSS after
the 2,000 requests is at most 8 MiB or 10% above its RSS after a warm-up of 200 requests (not
checked under the sanitizers, whose allocators keep freed memory on purpose); the server then
stops cleanly on SIGTERM. Prints p50 and p99 latency (docs/serve.md records them).

    test_serve_load.py ALAE MAKE_MODELS WORKDIR [--sanitized]
"""
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server  # noqa: E402

ALAE, MAKE_MODELS, WORK = sys.argv[1:4]
SANITIZED = "--sanitized" in sys.argv[4:]
REQUESTS, CLIENTS, WARMUP = 2000, 16, 200


def request_mix(w, png, latent):
    """(name, method, path, body, valid) choices; 1 in 10 malformed."""
    valid = [
        ("info", "GET", "/api/info", None),
        ("generate", "POST", "/api/generate", {"seed": 5}),
        ("decode", "POST", "/api/decode", {"w": w}),
        ("edit", "POST", "/api/edit", {"w": w, "amounts": {"pc1": 1.5, "pc2": -1}, "truncation": 0.8}),
        ("encode", "POST", "/api/encode", png),
        ("reconstruct", "POST", "/api/reconstruct?format=json", png),
        ("interpolate", "POST", "/api/interpolate", {"a": w, "b": [0.0] * latent, "steps": 6}),
        ("invert", "POST", "/api/invert?steps=5", png),
    ]
    malformed = [
        ("bad-json", "POST", "/api/edit", b"{\"w\": [1,"),
        ("short-code", "POST", "/api/decode", {"w": [1, 2, 3]}),
        ("not-image", "POST", "/api/encode", b"not an image at all"),
        ("cut-image", "POST", "/api/reconstruct", png[:40]),
        ("no-route", "GET", "/api/secret", None),
        ("wrong-method", "GET", "/api/edit", None),
        ("bad-format", "POST", "/api/generate?format=tiff", {}),
        ("bad-steps", "POST", "/api/invert?steps=100000", png),
    ]
    rng = random.Random(15)
    plan = []
    for i in range(REQUESTS):
        if i % 10 == 9:
            plan.append(rng.choice(malformed) + (False,))
        else:
            plan.append(rng.choice(valid) + (True,))
    return plan


def run(server, plan):
    """Runs the plan from CLIENTS threads; returns (latencies of valid requests in ms, failures)."""
    lock = threading.Lock()
    latencies, failures = [], []
    todo = list(enumerate(plan))

    def client():
        while True:
            with lock:
                if not todo:
                    return
                i, (name, method, path, body, valid) = todo.pop()
            t0 = time.perf_counter()
            try:
                status, headers, data = server.request(method, path, body)
            except Exception as e:  # a dropped connection is a failure too
                status, headers, data = -1, {}, repr(e).encode()
            ms = (time.perf_counter() - t0) * 1000
            good = status == 200 if valid else (400 <= status < 500 and
                                                headers.get("content-type") == "application/json" and
                                                "error" in json.loads(data))
            with lock:
                if valid and good:
                    latencies.append(ms)
                if not good:
                    failures.append("%d %s %s: %d %r" % (i, name, path, status, data[:120]))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    models = os.path.join(WORK, "models")
    os.makedirs(models)
    subprocess.run([MAKE_MODELS, models], check=True, timeout=300)
    s = Server(ALAE, WORK, ["--model", models + "/mlp.safetensors", "--workers", "2", "--threads", "1",
                            "--queue", "64"], name="load")
    try:
        gen = json.loads(s.request("POST", "/api/generate?format=json", {"seed": 9})[2])
        png = s.request("POST", "/api/generate", {"seed": 9})[2]
        plan = request_mix(gen["w"], png, len(gen["w"]))
        _, warm_failures = run(s, plan[:WARMUP])
        rss_warm = s.rss_kib()
        t0 = time.perf_counter()
        latencies, failures = run(s, plan)
        seconds = time.perf_counter() - t0
        rss_end = s.rss_kib()
    finally:
        rc = s.stop()
    failures += warm_failures
    n_valid = sum(1 for p in plan if p[4])
    print("serve_load: %d requests (%d valid, %d malformed) from %d clients in %.1f s (%.0f requests/s)"
          % (REQUESTS, n_valid, REQUESTS - n_valid, CLIENTS, seconds, REQUESTS / seconds))
    print("serve_load: latency of the valid requests: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (percentile(latencies, 50), percentile(latencies, 99), max(latencies)))
    print("serve_load: server RSS %.1f MiB after the warm-up, %.1f MiB after the %d requests (%+.1f MiB)"
          % (rss_warm / 1024, rss_end / 1024, REQUESTS, (rss_end - rss_warm) / 1024))
    print("serve_load: failures: %d" % len(failures))
    for f in failures[:20]:
        print("  " + f)
    assert not failures, "%d requests failed" % len(failures)
    assert len(latencies) == n_valid, "%d valid answers of %d" % (len(latencies), n_valid)
    if SANITIZED:
        print("serve_load: RSS not checked (a sanitizer build keeps freed memory in quarantine)")
    else:
        allowed = max(8 * 1024, rss_warm // 10)
        assert rss_end - rss_warm <= allowed, "RSS grew by %d KiB (allowed %d KiB)" % (rss_end - rss_warm, allowed)
    assert rc == 0 and "SIGTERM: stopping" in s.stdout(), "stop: %d %r" % (rc, s.stderr())


if __name__ == "__main__":
    main()
