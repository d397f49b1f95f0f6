#!/usr/bin/python3
"""PyTorch implementation of the MLP ALAE "mnist-fc" and its full training iteration.

The model and the iteration are the ones the authors' code computes (podgorskiy/ALAE, HEAD
GeneratorFC/EncoderFC with MappingF and MappingDNoStyle; see docs/alae-reference.md sections 1-2 and
fixtures/README.md sections 5-7) and the ones libalae implements (lib/nn/mlp.c,
lib/train/trainer.c):

  F: pixel norm, 6 x (Linear 50->50, leaky ReLU 0.2), the last one included
  G: Linear 50->1024, lrelu 0.2, 1024->1024, lrelu 0.2, 1024->784 (linear), viewed
     [N,1,28,28] and nearest-resized to 32x32
  E: nearest resize 32->28, flatten, 784->1024 lrelu 0.2, 1024->1024 lrelu 0.2, 1024->50 lrelu 0.2
  D: 3 x Linear 50->50 without activations; the logit is output unit 0

Equalised learning rate in "implicit" mode: the forward pass uses the stored weights as they are;
weights are initialised N(0, (sqrt(2)/sqrt(fan_in))^2), biases 0, and LREQAdam multiplies each
parameter's step by its coefficient (weights sqrt(2)/sqrt(fan_in)*lrmul, biases lrmul; F and D
have lrmul 0.1).

One iteration (train_step):
  I   D-step: fakes G(F(z_d)) under no_grad; loss_d = mean(softplus(d_fake) + softplus(-d_real)
      + 5 * |d sum(d_real) / dx|^2) (R1, gamma 10, double backward); Adam step on E and D.
  II  G-step: loss_g = mean(softplus(-D(E(G(F(z_g)))))); gradients to F and G only; Adam step.
  III latent step: lae = mean((E(G(F(z_a))) - F(z_a).detach())^2); gradients to E, G, F; D gets
      a zero gradient; Adam step on E and D (D's state advances), then on F and G.
  dlatent_avg (running mean of w, beta 0.995) is updated in every generator call (3 per
  iteration); the EMA copy (half-life 10k images) after the iteration. As in libalae the EMA copy
  starts as a copy of the model (the reference starts it from another random initialisation).

Module use:
    import pytorch_mlp_alae as m
    model = m.build_model(seed=0); opt = m.build_optimizer(model)
    losses = m.train_step(model, opt, x, z_d, z_g, z_a)      # x [N,1,32,32] in [-1,1], z [N,50]
    codes = m.encode(model, x)                               # EMA encoder by default

CLI:
    /usr/bin/python3 bench/pytorch_mlp_alae.py --threads 1 --steps 20 --batch 128
    /usr/bin/python3 bench/pytorch_mlp_alae.py --check-fixture ../shared/fixtures/mlp.safetensors
    /usr/bin/python3 bench/pytorch_mlp_alae.py --blas-info

The thread count must be known before torch (and OpenBLAS) is loaded: Debian's torch calls
OpenBLAS (pthread build) through the generic libblas.so.3, and OpenBLAS sizes its own thread pool
from OPENBLAS_NUM_THREADS at load time, independently of torch.set_num_threads. The CLI therefore
sets OMP_NUM_THREADS/OPENBLAS_NUM_THREADS before importing torch and also calls
openblas_set_num_threads; a module user should do the same (see set_threads()).
"""

import math
import os
import sys
import time

from torch_bench_util import openblas, peak_rss_mib, read_safetensors

L = 50            # latent size
HIDDEN = 1024
NET = 28          # G/E work on 28x28
IMG = 32          # images are zero-padded to 32x32
MAPPING_LAYERS = 6
D_LAYERS = 3
SLOPE = 0.2
LR = 0.002
BETA2 = 0.99
EPS = 1e-8
R1_GAMMA = 10.0
DLATENT_BETA = 0.995
EMA_HALF_LIFE = 10000.0

torch = None      # imported lazily so the CLI can set the thread environment first
F = None


def _import_torch():
    global torch, F
    if torch is None:
        import torch as _t
        import torch.nn.functional as _f
        torch, F = _t, _f
    return torch


def set_threads(threads, omp_wait_policy="passive"):
    """Sets every thread pool torch's CPU kernels use. Call before importing torch: OpenBLAS
    sizes its pool and libgomp reads OMP_WAIT_POLICY when they are loaded.

    omp_wait_policy: "passive" (default), "active" or "default" (leave the environment alone).
    With Debian's torch, ATen's OpenMP threads and OpenBLAS's own pthreads take turns on the
    same cores; libgomp's default spin-waiting then steals the cores from OpenBLAS and a 2-thread
    iteration is ~2.5x slower than a 1-thread one. PASSIVE (threads sleep at once) avoids it."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    if omp_wait_policy and omp_wait_policy != "default":
        os.environ["OMP_WAIT_POLICY"] = omp_wait_policy.upper()
    if torch is not None:
        print("warning: torch was imported before set_threads(); OpenBLAS pool size and OMP_WAIT_POLICY "
              "may not take effect", file=sys.stderr)
    _import_torch()
    torch.set_num_threads(threads)
    lib = openblas()
    if lib is not None:
        lib.openblas_set_num_threads(threads)


# ---------------------------------------------------------------- model

class Model:
    """Parameters (reference state_dict names), their lr coefficients, the EMA copy and
    dlatent_avg. Parts: 'F', 'G', 'E', 'D'."""

    def __init__(self):
        self.params = {}     # name -> tensor (requires_grad)
        self.coef = {}       # name -> float lr_equalization_coef
        self.part = {}       # name -> 'F' | 'G' | 'E' | 'D'
        self.ema = {}        # name -> tensor (smoothed copy)
        self.dlatent_avg = None

    def names(self, parts):
        return [n for n in self.params if self.part[n] in parts]


def _layers():
    """(part, reference prefix, in, out, lrmul) for every Linear layer, in libalae's order."""
    out = []
    for i in range(MAPPING_LAYERS):
        out.append(("F", "mapping_f.map_blocks.%d.fc" % i, L, L, 0.1))
    out += [("G", "decoder.fc_1", L, HIDDEN, 1.0), ("G", "decoder.fc_2", HIDDEN, HIDDEN, 1.0),
            ("G", "decoder.fc_3", HIDDEN, NET * NET, 1.0)]
    out += [("E", "encoder.fc_1", NET * NET, HIDDEN, 1.0), ("E", "encoder.fc_2", HIDDEN, HIDDEN, 1.0),
            ("E", "encoder.fc_3", HIDDEN, L, 1.0)]
    for i in range(D_LAYERS):
        out.append(("D", "mapping_d.map_blocks.%d" % i, L, L, 0.1))
    return out


def build_model(seed=0):
    """A fresh model: weights N(0, 2/fan_in), biases 0, EMA = copy, dlatent_avg = 0."""
    _import_torch()
    gen = torch.Generator().manual_seed(int(seed))
    m = Model()
    for part, name, fin, fout, lrmul in _layers():
        std = math.sqrt(2.0) / math.sqrt(fin)
        w = torch.randn(fout, fin, generator=gen) * std
        b = torch.zeros(fout)
        for suffix, t, c in ((".weight", w, std * lrmul), (".bias", b, lrmul)):
            m.params[name + suffix] = t.requires_grad_(True)
            m.coef[name + suffix] = c
            m.part[name + suffix] = part
    m.ema = {n: p.detach().clone() for n, p in m.params.items()}
    m.dlatent_avg = torch.zeros(L)
    return m


def _linear(p, x, name):
    return F.linear(x, p[name + ".weight"], p[name + ".bias"])


def net_F(p, z):
    h = z * torch.rsqrt(torch.mean(z * z, dim=1, keepdim=True) + 1e-8)
    for i in range(MAPPING_LAYERS):
        h = F.leaky_relu(_linear(p, h, "mapping_f.map_blocks.%d.fc" % i), SLOPE)
    return h


def net_G(p, w):
    h = F.leaky_relu(_linear(p, w, "decoder.fc_1"), SLOPE)
    h = F.leaky_relu(_linear(p, h, "decoder.fc_2"), SLOPE)
    h = _linear(p, h, "decoder.fc_3").view(-1, 1, NET, NET)
    return F.interpolate(h, size=(IMG, IMG), mode="nearest")


def net_E(p, x):
    h = F.interpolate(x, size=(NET, NET), mode="nearest").reshape(x.shape[0], NET * NET)
    h = F.leaky_relu(_linear(p, h, "encoder.fc_1"), SLOPE)
    h = F.leaky_relu(_linear(p, h, "encoder.fc_2"), SLOPE)
    return F.leaky_relu(_linear(p, h, "encoder.fc_3"), SLOPE)


def net_D(p, w):
    h = w
    for i in range(D_LAYERS):
        h = _linear(p, h, "mapping_d.map_blocks.%d" % i)   # no activation (the reference's choice)
    return h[:, 0]


# ---------------------------------------------------------------- LREQAdam

class LREQAdam:
    """Adam without first moment: v = b2 v + (1-b2) g^2; p -= lr sqrt(1-b2^t) coef g / (sqrt(v)+eps).
    Parameters whose gradient is None are skipped (no state change); zero gradients step."""

    def __init__(self, model, names, lr=LR, beta2=BETA2, eps=EPS):
        self.model, self.names = model, list(names)
        self.lr, self.beta2, self.eps = lr, beta2, eps
        self.v = {n: torch.zeros_like(model.params[n]) for n in self.names}
        self.t = {n: 0 for n in self.names}

    def step(self, grads):
        """grads: name -> gradient tensor or None."""
        with torch.no_grad():
            for n in self.names:
                g = grads.get(n)
                if g is None:
                    continue
                self.t[n] += 1
                step = self.lr * math.sqrt(1.0 - self.beta2 ** self.t[n]) * self.model.coef[n]
                v = self.v[n]
                v.mul_(self.beta2).addcmul_(g, g, value=1.0 - self.beta2)
                denom = v.sqrt().add_(self.eps)
                self.model.params[n].addcdiv_(g, denom, value=-step)


class Optimizers:
    """The reference's two optimisers: ed = encoder + mapping_d, fg = decoder + mapping_f."""

    def __init__(self, model, lr=LR):
        self.ed = LREQAdam(model, model.names("ED"), lr)
        self.fg = LREQAdam(model, model.names("FG"), lr)


def build_optimizer(model, lr=LR):
    _import_torch()
    return Optimizers(model, lr)


# ---------------------------------------------------------------- training iteration

def _update_dlatent_avg(model, w):
    with torch.no_grad():
        model.dlatent_avg.add_((1.0 - DLATENT_BETA) * (w.mean(dim=0) - model.dlatent_avg))


def _update_ema(model, batch):
    rate = 1.0 - 0.5 ** (batch / EMA_HALF_LIFE)
    with torch.no_grad():
        for n, p in model.params.items():
            model.ema[n].add_(rate * (p - model.ema[n]))


def _grads(loss, model, names):
    g = torch.autograd.grad(loss, [model.params[n] for n in names])
    return dict(zip(names, g))


def train_step(model, opt, x, z_d, z_g, z_a, ema=True):
    """One ALAE iteration. x: [N,1,32,32] real batch in [-1,1]; z_*: [N,50] latents of the
    D-step, G-step and latent step. Returns (loss_d, loss_g, lae, r1) as floats."""
    p = model.params
    n = x.shape[0]
    ed, fg = model.names("ED"), model.names("FG")
    # I: D-step (E and D)
    with torch.no_grad():
        w = net_F(p, z_d)
        _update_dlatent_avg(model, w)
        x_fake = net_G(p, w)
    x_real = x.detach().requires_grad_(True)
    d_real = net_D(p, net_E(p, x_real))
    d_fake = net_D(p, net_E(p, x_fake))
    real_grads, = torch.autograd.grad(d_real.sum(), x_real, create_graph=True)
    r1 = (0.5 * R1_GAMMA) * real_grads.pow(2).sum(dim=(1, 2, 3))
    loss_d = (F.softplus(d_fake) + F.softplus(-d_real) + r1).mean()
    opt.ed.step(_grads(loss_d, model, ed))
    # II: G-step (F and G; E is frozen, D's gradient would be discarded)
    w = net_F(p, z_g)
    _update_dlatent_avg(model, w)
    loss_g = F.softplus(-net_D(p, net_E(p, net_G(p, w)))).mean()
    opt.fg.step(_grads(loss_g, model, fg))
    # III: latent step (E, G, F; D takes a zero-gradient step)
    w = net_F(p, z_a)
    _update_dlatent_avg(model, w)
    w_rec = net_E(p, net_G(p, w))
    lae = (w_rec - w.detach()).pow(2).mean()
    efg = model.names("EFG")
    grads = _grads(lae, model, efg)
    for name in model.names("D"):
        grads[name] = torch.zeros_like(p[name])
    opt.ed.step(grads)
    opt.fg.step(grads)
    if ema:
        _update_ema(model, n)
    return float(loss_d), float(loss_g), float(lae), float(r1.mean())


def encode(model, x, smoothed=True, chunk=2048):
    """E(x) [N,50] (float32) with the EMA encoder (smoothed=True) or the training one."""
    p = model.ema if smoothed else {k: v.detach() for k, v in model.params.items()}
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            out.append(net_E(p, x[i:i + chunk]))
    return torch.cat(out)


# ---------------------------------------------------------------- data helpers

def pad_and_scale(images_u8):
    """uint8 [N,28,28] (numpy or torch) -> float32 [N,1,32,32]: zero-pad 2 pixels on each side,
    x/127.5 - 1 (padding becomes -1)."""
    _import_torch()
    t = torch.as_tensor(images_u8)
    out = torch.full((t.shape[0], 1, IMG, IMG), -1.0)
    out[:, 0, 2:30, 2:30] = t.float() / 127.5 - 1.0
    return out


# ---------------------------------------------------------------- fixture check

def check_fixture(path):
    """Runs one iteration from the fixture's theta0, x and noise.0/1/2 and compares with it.
    Returns True when everything is within tolerance."""
    import numpy as np
    _import_torch()
    ts, meta = read_safetensors(path)
    model = build_model(0)
    with torch.no_grad():
        for n in model.params:
            model.params[n].copy_(torch.from_numpy(ts[n]))
            ref_coef = ts.get("lr_coef." + n)
            if ref_coef is not None and abs(float(ref_coef) - model.coef[n]) > 1e-6 * abs(model.coef[n]):
                print("coef mismatch %s: %g vs %g" % (n, model.coef[n], float(ref_coef)))
    model.dlatent_avg.copy_(torch.from_numpy(ts["dlatent_avg.buff"][0]))
    opt = build_optimizer(model, lr=LR)
    x = torch.from_numpy(ts["x"])
    z = [torch.from_numpy(ts["noise.%d" % k]) for k in range(3)]
    # forward section at theta0 (G has no noise in the MLP)
    p = model.params
    with torch.no_grad():
        fwd = {"w": net_F(p, torch.from_numpy(ts["z"]))}
        fwd["x_fake"] = net_G(p, fwd["w"])
        fwd["w_real"] = net_E(p, x)
        fwd["d_real"] = net_D(p, fwd["w_real"])
        fwd["w_fake"] = net_E(p, fwd["x_fake"])
        fwd["d_fake"] = net_D(p, fwd["w_fake"])
    loss_d, loss_g, lae, r1 = train_step(model, opt, x, z[0], z[1], z[2], ema=False)

    ok = True
    rows = []

    def rel(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))

    def check(label, got, ref, tol):
        nonlocal ok
        r = rel(got, ref)
        good = r <= tol
        ok &= good
        rows.append((label, r, tol, "ok" if good else "FAIL"))

    for k, v in fwd.items():
        check(k, v.numpy(), ts[k], 5e-5)
    for k, v in (("loss_d", loss_d), ("loss_g", loss_g), ("lae", lae)):
        check(k, v, ts[k], 1e-4)
    check("r1 (at theta0, on x)", r1, ts["r1"], 1e-4)   # the D-step's R1 is the fixture's r1
    # parameters after the whole iteration: full tensors where stored, slices/row/col sums otherwise
    # (tolerance for a parameter element: 1e-6 max(1,|p|) + 0.25 lr coef, fixtures README section 11)
    n_full = n_sliced = 0
    worst_steps = 0.0
    for n, t in model.params.items():
        got = t.detach().numpy()
        step = LR * model.coef[n]
        if "after." + n in ts:
            ref = ts["after." + n]
            d = np.abs(got.astype(np.float64) - ref) - 1e-6 * np.maximum(1.0, np.abs(ref))
            worst = float(np.max(d)) / step
            worst_steps = max(worst_steps, worst)
            good = worst <= 0.25
            ok &= good
            n_full += 1
            if not good:
                rows.append(("after." + n, worst, 0.25, "FAIL (in Adam steps)"))
        else:
            k = [s for s in ts if s.startswith("after." + n + "[::")]
            assert len(k) == 1, n
            kk = int(k[0].split("[::")[1].rstrip("]"))
            d = np.abs(got[::kk].astype(np.float64) - ts[k[0]]) - 1e-6 * np.maximum(1.0, np.abs(ts[k[0]]))
            worst = float(np.max(d)) / step
            worst_steps = max(worst_steps, worst)
            good = worst <= 0.25
            ok &= good
            if not good:
                rows.append((k[0], worst, 0.25, "FAIL (in Adam steps)"))
            check("after." + n + ".rowsum", got.sum(axis=1), ts["after." + n + ".rowsum"], 1e-4)
            check("after." + n + ".colsum", got.sum(axis=0), ts["after." + n + ".colsum"], 1e-4)
            n_sliced += 1
    rows.append(("after.* elements (%d full, %d sliced tensors), worst |diff| in Adam steps" % (n_full, n_sliced),
                 worst_steps, 0.25, "ok" if worst_steps <= 0.25 else "FAIL"))
    check("after.dlatent_avg.buff", model.dlatent_avg.numpy()[None, :].repeat(8, 0), ts["after.dlatent_avg.buff"],
          5e-5)
    print("fixture %s (reference torch %s)" % (path, meta.get("torch_version", "?")))
    print("  loss_d %.7g (ref %.7g)  loss_g %.7g (ref %.7g)  lae %.7g (ref %.7g)  r1 %.7g (ref %.7g)"
          % (loss_d, float(ts["loss_d"]), loss_g, float(ts["loss_g"]), lae, float(ts["lae"]), r1, float(ts["r1"])))
    w = max(len(r[0]) for r in rows)
    for label, r, tol, verdict in rows:
        print("  %-*s %10.3g  (tol %.3g)  %s" % (w, label, r, tol, verdict))
    print("FIXTURE %s" % ("PASS" if ok else "FAIL"))
    return ok


# ---------------------------------------------------------------- benchmark

def blas_info(threads):
    """Prints torch's build/parallel configuration and a 1024^3 float32 matmul rate."""
    _import_torch()
    print(torch.__config__.show().strip())
    print(torch.__config__.parallel_info().strip())
    lib = openblas()
    if lib is not None:
        import ctypes
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        print("OpenBLAS: %s; core %s; threads %d" % (lib.openblas_get_config().decode(),
                                                    lib.openblas_get_corename().decode(),
                                                    lib.openblas_get_num_threads()))
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        torch.mm(a, b)
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    times.sort()
    best, med = times[0], times[len(times) // 2]
    print("matmul 1024^3 float32, %d thread(s): %.1f GFLOP/s median, %.1f best"
          % (threads, 2 * 1024 ** 3 / med / 1e9, 2 * 1024 ** 3 / best / 1e9))


class CpuMonitor:
    """CPU time used by other processes (and stolen by the hypervisor) during a measurement, from
    /proc/stat: a busy machine makes multi-threaded timings meaningless (OpenMP/OpenBLAS threads
    spin and get descheduled)."""

    def __init__(self):
        self.ok = os.path.exists("/proc/stat")
        if self.ok:
            self.t0, self.own0, self.stat0 = time.perf_counter(), self._own(), self._stat()

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system

    @staticmethod
    def _stat():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
        return (user + nice + system + irq + softirq) / hz, steal / hz

    def report(self):
        if not self.ok:
            return ""
        wall = time.perf_counter() - self.t0
        busy1, steal1 = self._stat()
        others = (busy1 - self.stat0[0] - (self._own() - self.own0)) / wall
        steal = (steal1 - self.stat0[1]) / wall
        msg = "other processes used %.2f CPU(s), hypervisor steal %.2f CPU(s) on average (of %d)" % (
            max(others, 0.0), steal, os.cpu_count() or 0)
        if others > 0.1 or steal > 0.1:
            msg += "  WARNING: the machine was not idle, timings are unreliable"
        return msg


def _to_device(model, dev):
    """Moves a model built on the CPU (same numbers) to dev."""
    for n in list(model.params):
        model.params[n] = model.params[n].detach().to(dev).requires_grad_(True)
    model.ema = {n: p.to(dev) for n, p in model.ema.items()}
    model.dlatent_avg = model.dlatent_avg.to(dev)


def benchmark(threads, steps, batch, warmup=3, seed=0, device="cpu"):
    _import_torch()
    dev = torch.device(device)
    if dev.type == "cuda":
        # exact float32 matrix products, as libalae's default (ALAE_CTX_TF32 = 0)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        print("device %s: %s" % (dev, torch.cuda.get_device_name(dev)))
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    lib = openblas()
    print("torch %s: torch threads %d, OpenBLAS threads %s, OMP_WAIT_POLICY=%s"
          % (torch.__version__, torch.get_num_threads(), lib.openblas_get_num_threads() if lib else "n/a",
             os.environ.get("OMP_WAIT_POLICY", "(unset)")))
    torch.manual_seed(seed)
    rss_import = peak_rss_mib()
    model = build_model(seed)
    if dev.type != "cpu":
        _to_device(model, dev)
    opt = build_optimizer(model)
    gen = torch.Generator().manual_seed(seed + 1)
    digits = torch.randint(0, 256, (batch, 28, 28), generator=gen, dtype=torch.uint8)
    x = pad_and_scale(digits).to(dev)
    times = []
    cpus = []
    mon = None
    for i in range(warmup + steps):
        if i == warmup:
            mon = CpuMonitor()
        sync()
        c0 = time.process_time()
        t0 = time.perf_counter()
        z = torch.randn(3, batch, L, generator=gen).to(dev)
        losses = train_step(model, opt, x, z[0], z[1], z[2])
        sync()
        t1 = time.perf_counter()
        c1 = time.process_time()
        if i >= warmup:
            times.append(t1 - t0)
            cpus.append(c1 - c0)
    times.sort()
    cpus.sort()
    med = times[len(times) // 2]          # the same (upper) median as bench/bench_mlp.c
    rss = peak_rss_mib()
    print("torch %s, %d thread(s), batch %d: %d measured steps after %d warm-up; "
          "min %.4f s, median %.4f s, max %.4f s per iteration; last losses d %.4f g %.4f lae %.4f"
          % (torch.__version__, threads, batch, steps, warmup, times[0], med, times[-1], *losses[:3]))
    print("peak RSS %.1f MiB (%.1f MiB after importing torch, before the model)" % (rss, rss_import))
    if mon is not None:
        print("load: " + mon.report())
    # cpu_s: the median process CPU time of an iteration (all threads), comparable when other
    # processes share the cores
    print("RESULT torch threads=%d device=%s median_s=%.6f images_per_s=%.1f peak_rss_mib=%.1f cpu_s=%.6f"
          % (threads, dev.type, med, batch / med, rss, cpus[len(cpus) // 2]))


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20, help="measured iterations (after 3 warm-up ones)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--omp-wait-policy", choices=("passive", "active", "default"), default="passive",
                    help="OMP_WAIT_POLICY for torch's OpenMP threads (default passive; see set_threads)")
    ap.add_argument("--device", default="cpu", help="torch device of the benchmark: cpu (default) or cuda[:N]")
    ap.add_argument("--check-fixture", metavar="PATH", help="verify one iteration against mlp.safetensors")
    ap.add_argument("--blas-info", action="store_true", help="print torch's BLAS/threads and a matmul rate")
    a = ap.parse_args(argv)
    set_threads(a.threads, a.omp_wait_policy)   # before torch/OpenBLAS create their thread pools
    if a.check_fixture:
        return 0 if check_fixture(a.check_fixture) else 1
    if a.blas_info:
        blas_info(a.threads)
        return 0
    benchmark(a.threads, a.steps, a.batch, a.warmup, a.seed, a.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
