#!/usr/bin/python3
"""Training-quality comparison of libalae and PyTorch on Fashion-MNIST (the mnist-fc MLP ALAE).

Both trainers run the same model and iteration (bench/pytorch_mlp_alae.py; libalae's
`alae train --preset mnist-fc`) with batch 128 on the 60k training images. Every --every
iterations the EMA encoder encodes the training split (the neighbours) and the test split, and
the 1-nearest-neighbour (Euclidean) accuracy of the test codes is measured. Baselines: 1-NN on
the raw pixels and on a 50-component PCA fitted on the training split, both on the same
32x32 zero-padded images scaled to [-1, 1] (padding = -1).

    /usr/bin/python3 bench/quality_mlp.py --iters 6000 --every 500 --threads 2 \\
        --alae build/tools/alae --out quality_mlp.csv

Training time: for PyTorch the sum of the iterations only (evaluation excluded). For libalae two
numbers: alae_train_s, the wall-clock of the `alae train` processes (one per --every increment,
each resuming from DIR/train-state.safetensors), which also includes process start, reading the
data and saving the model, state and images at each increment; and alae_log_s, the cumulative
training time that alae itself writes in DIR/log.csv (the number comparable with PyTorch's).

CSV columns: kind (checkpoint | pca50 | raw_pixels), iterations, alae_train_s, alae_log_s,
alae_1nn_acc, torch_train_s, torch_1nn_acc, baseline_1nn_acc (empty where not applicable).
"""

import argparse
import csv
import gzip
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

DATA_DIR = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx(path):
    """An IDX file (optionally gzip-compressed) as a numpy array."""
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] * 256 + data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    return np.frombuffer(data, dtype=np.uint8, count=int(np.prod(dims)), offset=off).reshape(dims)


def pad_scale_np(images):
    """uint8 [N,28,28] -> float32 [N,1,32,32]: zero-pad 2 px each side, x/127.5 - 1."""
    import numpy as np
    out = np.full((images.shape[0], 1, 32, 32), -1.0, dtype=np.float32)
    out[:, 0, 2:30, 2:30] = images.astype(np.float32) / 127.5 - 1.0
    return out


def knn1_accuracy(train, train_labels, test, test_labels, chunk=1000):
    """1-NN (Euclidean) accuracy of test against train; float32 matrix products in chunks."""
    import numpy as np
    train = np.ascontiguousarray(train, dtype=np.float32).reshape(train.shape[0], -1)
    test = np.ascontiguousarray(test, dtype=np.float32).reshape(test.shape[0], -1)
    if not (np.isfinite(train).all() and np.isfinite(test).all()):
        return float("nan")
    tr_sq = np.einsum("ij,ij->i", train, train)
    correct = 0
    for i in range(0, test.shape[0], chunk):
        q = test[i:i + chunk]
        d = tr_sq[None, :] - 2.0 * (q @ train.T)      # |q|^2 is constant per row
        nn = np.argmin(d, axis=1)
        correct += int(np.sum(train_labels[nn] == test_labels[i:i + chunk]))
    return correct / test.shape[0]


def pca_codes(train, test, k=50):
    import numpy as np
    a = train.reshape(train.shape[0], -1).astype(np.float64)
    mean = a.mean(axis=0)
    a -= mean
    cov = a.T @ a / a.shape[0]
    vals, vecs = np.linalg.eigh(cov)
    basis = vecs[:, ::-1][:, :k]
    tr = (a @ basis).astype(np.float32)
    te = ((test.reshape(test.shape[0], -1).astype(np.float64) - mean) @ basis).astype(np.float32)
    return tr, te


# ---------------------------------------------------------------- PyTorch

def run_torch(args, x_train, y_train, x_test, y_test, checkpoints):
    sys.path.insert(0, HERE)
    import pytorch_mlp_alae as m
    torch = m._import_torch()
    xt = torch.from_numpy(x_train)
    xs = torch.from_numpy(x_test)
    model = m.build_model(args.seed)
    opt = m.build_optimizer(model)
    gen = torch.Generator().manual_seed(args.seed + 1)
    n, b = xt.shape[0], args.batch
    perm, pos = None, n
    results = {}
    train_s = 0.0
    it = 0
    for target in checkpoints:
        t0 = time.perf_counter()
        while it < target:
            if pos + b > n:                       # a new epoch (the last partial batch is dropped)
                perm, pos = torch.randperm(n, generator=gen), 0
            x = xt[perm[pos:pos + b]]
            pos += b
            z = torch.randn(3, b, m.L, generator=gen)
            losses = m.train_step(model, opt, x, z[0], z[1], z[2])
            it += 1
        train_s += time.perf_counter() - t0
        ctr = m.encode(model, xt).numpy()
        cte = m.encode(model, xs).numpy()
        acc = knn1_accuracy(ctr, y_train, cte, y_test)
        results[target] = (train_s, acc)
        print("torch  %6d it  %8.1f s  1-NN %.4f  (losses d %.3f g %.3f lae %.4f)"
              % (target, train_s, acc, *losses[:3]), flush=True)
    return results


# ---------------------------------------------------------------- libalae

def run_alae(args, y_train, y_test, checkpoints):
    import numpy as np
    work = args.alae_dir or tempfile.mkdtemp(prefix="alae-quality-")
    os.makedirs(work, exist_ok=True)
    model_dir = tempfile.mkdtemp(prefix="run-", dir=work)   # fresh: the first 'alae train' starts from scratch
    train_gz = os.path.join(args.data, "train-images-idx3-ubyte.gz")
    test_gz = os.path.join(args.data, "t10k-images-idx3-ubyte.gz")
    extra_train = shlex.split(args.alae_train_args or "")
    extra_encode = shlex.split(args.alae_encode_args or "")
    results = {}
    train_s = 0.0

    def call(cmd):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            tail = "\n".join(p.stdout.strip().splitlines()[-20:])
            raise RuntimeError("command failed (exit %d): %s\n%s" % (p.returncode, " ".join(cmd), tail))
        return p.stdout

    def encode(images_gz, name):
        out = os.path.join(work, name)
        if os.path.exists(out):
            os.remove(out)
        call([args.alae, "encode", "--model", os.path.join(model_dir, "model.safetensors"), "--data", images_gz,
              "--out", out, "--threads", str(args.threads)] + extra_encode)
        codes = np.load(out)
        if codes.ndim != 2 or codes.shape[1] != 50:
            raise RuntimeError("%s: expected codes [N, 50], got %s" % (out, codes.shape))
        return codes

    for i, target in enumerate(checkpoints):
        cmd = [args.alae, "train", "--preset", "mnist-fc", "--data", train_gz, "--out", model_dir,
               "--steps", str(target), "--batch", str(args.batch), "--seed", str(args.seed),
               "--threads", str(args.threads)] + (["--resume"] if i > 0 else []) + extra_train
        t0 = time.perf_counter()
        try:
            call(cmd)
        except RuntimeError as e:
            print("alae: %s" % e, file=sys.stderr)
            break
        train_s += time.perf_counter() - t0
        try:
            ctr = encode(train_gz, "train_codes.npy")
            cte = encode(test_gz, "test_codes.npy")
        except (RuntimeError, OSError, ValueError) as e:
            print("alae: %s" % e, file=sys.stderr)
            break
        if ctr.shape[0] != y_train.shape[0] or cte.shape[0] != y_test.shape[0]:
            print("alae: encode returned %d/%d codes for %d/%d images" % (ctr.shape[0], cte.shape[0],
                  y_train.shape[0], y_test.shape[0]), file=sys.stderr)
            break
        acc = knn1_accuracy(ctr, y_train, cte, y_test)
        log_s = log_seconds(os.path.join(model_dir, "log.csv"))
        results[target] = (train_s, acc, log_s)
        print("alae   %6d it  %8.1f s (%s s in log.csv)  1-NN %.4f" % (target, train_s, fmt(log_s, "%.1f"), acc),
              flush=True)
    print("alae: files in %s" % work)
    return results


def log_seconds(path):
    """The cumulative training seconds of the last step in alae's log.csv
    (step,images,loss_d,loss_g,loss_ae,r1,seconds), or None."""
    try:
        with open(path) as f:
            rows = [r for r in csv.reader(f) if r and r[0] != "step"]
        last = max(rows, key=lambda r: int(r[0]))
        return float(last[6])
    except (OSError, ValueError, IndexError):
        return None


def fmt(v, spec):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else spec % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=6000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=DATA_DIR, help="folder with the four Fashion-MNIST .gz files")
    ap.add_argument("--alae", default=os.path.join(HERE, "..", "build", "tools", "alae"),
                    help="the alae binary (default: build/tools/alae)")
    ap.add_argument("--alae-dir", help="working folder for libalae's model/state/codes (default: a temp dir)")
    ap.add_argument("--alae-train-args", help="extra arguments for 'alae train' (one string)")
    ap.add_argument("--alae-encode-args", help="extra arguments for 'alae encode' (one string)")
    ap.add_argument("--omp-wait-policy", choices=("passive", "active", "default"), default="passive",
                    help="OMP_WAIT_POLICY for torch (see bench/pytorch_mlp_alae.py set_threads)")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--skip-alae", action="store_true")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--out", help="CSV output path")
    args = ap.parse_args()

    # thread pools are sized when numpy/OpenBLAS/torch load: set the environment first
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    if not args.skip_torch:
        sys.path.insert(0, HERE)
        try:
            import pytorch_mlp_alae as m
            m.set_threads(args.threads, args.omp_wait_policy)
        except ImportError:
            print("skipped torch: python3-torch is not installed", file=sys.stderr)
            args.skip_torch = True

    x_train = pad_scale_np(read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz")))
    y_train = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    x_test = pad_scale_np(read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz")))
    y_test = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    print("Fashion-MNIST: train %s, test %s; batch %d, %d iterations, evaluation every %d, seed %d, %d thread(s)"
          % (x_train.shape, x_test.shape, args.batch, args.iters, args.every, args.seed, args.threads), flush=True)
    checkpoints = list(range(args.every, args.iters + 1, args.every))
    if not checkpoints or checkpoints[-1] != args.iters:
        checkpoints.append(args.iters)

    baselines = {}
    if not args.skip_baselines:
        t0 = time.perf_counter()
        baselines["raw_pixels"] = knn1_accuracy(x_train, y_train, x_test, y_test)
        tr, te = pca_codes(x_train, x_test, 50)
        baselines["pca50"] = knn1_accuracy(tr, y_train, te, y_test)
        print("baselines: raw pixels 1-NN %.4f, PCA-50 1-NN %.4f (%.1f s)"
              % (baselines["raw_pixels"], baselines["pca50"], time.perf_counter() - t0), flush=True)

    alae_res, torch_res = {}, {}
    if not args.skip_alae:
        if not (os.path.isfile(args.alae) and os.access(args.alae, os.X_OK)):
            print("skipped libalae: %s does not exist or is not executable" % args.alae, file=sys.stderr)
        else:
            alae_res = run_alae(args, y_train, y_test, checkpoints)
    if not args.skip_torch:
        torch_res = run_torch(args, x_train, y_train, x_test, y_test, checkpoints)

    rows = []
    for it in checkpoints:
        a = alae_res.get(it, (None, None, None))
        t = torch_res.get(it, (None, None))
        rows.append(["checkpoint", it, fmt(a[0], "%.2f"), fmt(a[2], "%.2f"), fmt(a[1], "%.4f"), fmt(t[0], "%.2f"),
                     fmt(t[1], "%.4f"), ""])
    for k in ("pca50", "raw_pixels"):
        if k in baselines:
            rows.append([k, "", "", "", "", "", "", "%.4f" % baselines[k]])

    print()
    print("| iterations | libalae s (process) | libalae s (log.csv) | libalae 1-NN | torch s | torch 1-NN |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r[0] == "checkpoint":
            print("| %s | %s | %s | %s | %s | %s |" % tuple(str(v) if v != "" else "-" for v in r[1:7]))
    for r in rows:
        if r[0] != "checkpoint":
            print("| %s (baseline) | | | %s | | %s |" % ("PCA-50" if r[0] == "pca50" else "raw pixels", r[7], r[7]))
    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["kind", "iterations", "alae_train_s", "alae_log_s", "alae_1nn_acc", "torch_train_s",
                        "torch_1nn_acc", "baseline_1nn_acc"])
            w.writerows(rows)
        print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
