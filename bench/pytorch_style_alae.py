#!/usr/bin/python3
"""PyTorch implementation of StyleALAE (the `mnist` and `celeba` presets) and its training iteration.

The networks and the iteration are the authors' (podgorskiy/ALAE HEAD: GeneratorDefault,
EncoderDefault, MappingF, MappingD, train_alae.py; docs/alae-reference.md sections 3-5 and
fixtures/README.md sections 4, 6, 7) and the ones libalae implements (lib/nn/style_net.c,
lib/nn/style_blocks.c, lib/train/trainer*.c). `--check-fixture` proves it on style16.safetensors.

  F: pixel norm, MAPPING_LAYERS x (Linear L->L, lrelu 0.2), the last one included
  G: learned constant [1,C0,4,4]; block i: (i>0: nearest x2 + conv3x3, or at >= 128 px the fused
     transposed conv; then blur), noise, bias, lrelu, instance norm (eps 1e-8), AdaIN with
     style row 2i: IN(x)(1 + y_s) + y_b; conv3x3, noise, bias, lrelu, IN, AdaIN with row 2i+1;
     to_rgb (1x1 conv, gain 0.03, no activation); fade-in blends the RGB outputs
  E: lrelu(lrelu(from_rgb(x))) (leaky ReLU twice); block j: conv3x3 + bias, lrelu, stats
     (mean, std without eps) -> style_1, IN (eps 1e-5), blur, conv3x3 (+ 2x2 avg pool, or the
     fused stride-2 4x4 conv at >= 128 px), bias, lrelu, stats -> style_2, IN;
     w = sum over blocks of style_1 + style_2; fade-in blends the features after from_rgb
  D: 3 x Linear without activations (L->L, L->L, L->2L); the logit is output unit L

Equalised learning rate in "implicit" mode: weights are stored at their effective scale, the
optimiser (LREQAdam: no first moment, beta2 0.99) multiplies each step by the coefficient.

One iteration (train_step), as train_alae.py runs it:
  I   D-step: fakes G(mix(F(z_d))) under no_grad (style mixing p 0.9: one coin and one crossover
      in 1..2(lod+1) per batch, rows >= crossover from F(z_mix)); loss_d = mean(softplus(d_fake)
      + softplus(-d_real) + 5 |d sum(d_real)/dx|^2) (R1, double backward); Adam on E and D.
  II  G-step: loss_g = mean(softplus(-D(E(G(mix(F(z_g))))))), gradients to F and G; Adam.
  III latent step: lae = mean((E(G(F(z_a))) - F(z_a).detach())^2) (no mixing), gradients to
      E, G, F; D takes a zero-gradient step; Adam on E and D, then on F and G.
  The running mean of w moves in every generator call; the EMA copy after the iteration.

CLI:
    /usr/bin/python3 bench/pytorch_style_alae.py --check-fixture tests/fixtures/style16.safetensors
    /usr/bin/python3 bench/pytorch_style_alae.py --preset mnist --mode train --batch 64 --threads 1
    /usr/bin/python3 bench/pytorch_style_alae.py --preset celeba --resolution 64 --mode encode --batch 1
    ... --device cuda (timings synchronise the device; peak device memory is reported too)

Each run prints one line
    RESULT torch preset=P mode=M res=R batch=B threads=T median_s=... cpu_s=... items_per_s=... peak_rss_mib=...
with the median seconds per iteration (train) or per call (encode / decode), the process CPU
time of the same call (cpu_s; the robust 1-thread figure on a machine shared with other jobs)
and the process's peak resident memory (getrusage). The thread environment (OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, OMP_WAIT_POLICY=PASSIVE) is set before torch is imported, as in
bench/pytorch_mlp_alae.py.
"""

import json
import math
import os
import struct
import sys
import time

from torch_bench_util import openblas, peak_rss_mib, read_safetensors

SLOPE = 0.2
BETA2 = 0.99
EPS = 1e-8
R1_GAMMA = 10.0
DLATENT_BETA = 0.995
EMA_HALF_LIFE = 10000.0
MIXING_PROB = 0.9

# preset: image size, channels, start channels, max channels, latent size, mapping layers, lr
PRESETS = {
    "mnist": dict(image=32, channels=1, start=64, maxc=256, latent=32, mapping=4, lr=0.0015),
    "celeba": dict(image=128, channels=3, start=64, maxc=256, latent=256, mapping=8, lr=0.0015),
    "celeba-hq256": dict(image=256, channels=3, start=64, maxc=512, latent=512, mapping=8, lr=0.0015),
    "bedroom": dict(image=256, channels=3, start=32, maxc=512, latent=512, mapping=8, lr=0.0015),
    "ffhq": dict(image=1024, channels=3, start=16, maxc=512, latent=512, mapping=8, lr=0.0015),
}
# the default level and batch of the benchmark cases (issue 5)
DEFAULT_CASE = {"mnist": (32, 64), "celeba": (64, 32), "celeba-hq256": (256, 1), "bedroom": (256, 1),
                "ffhq": (1024, 1)}

torch = None
F = None


def _import_torch():
    global torch, F
    if torch is None:
        import torch as _t
        import torch.nn.functional as _f
        torch, F = _t, _f
    return torch


def set_threads(threads, omp_wait_policy="passive"):
    """As bench/pytorch_mlp_alae.py: the environment first, then torch and OpenBLAS."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    if omp_wait_policy and omp_wait_policy != "default":
        os.environ["OMP_WAIT_POLICY"] = omp_wait_policy.upper()
    _import_torch()
    torch.set_num_threads(threads)
    lib = openblas()
    if lib is not None:
        lib.openblas_set_num_threads(threads)


# ---------------------------------------------------------------- configuration

class Config:
    def __init__(self, image=32, channels=1, start=64, maxc=256, latent=32, mapping=4, lr=0.0015):
        self.image, self.channels, self.start, self.maxc = image, channels, start, maxc
        self.latent, self.mapping, self.lr = latent, mapping, lr
        self.layers = int(round(math.log2(image))) - 1          # N: 4 px .. image
        assert 2 ** (self.layers + 1) == image

    def g_channels(self, i):
        return min(self.maxc, self.start * 2 ** (self.layers - 1 - i))

    def e_in(self, j):
        return min(self.maxc, self.start * 2 ** j)

    def e_out(self, j):
        return min(self.maxc, self.start * 2 ** (j + 1))

    @property
    def style_count(self):
        return 2 * self.layers


def preset_config(name):
    return Config(**PRESETS[name])


# ---------------------------------------------------------------- parameters

class Model:
    """Parameters under the reference's state_dict names, their lr coefficients and parts."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.params, self.coef, self.part = {}, {}, {}
        self.ema = {}
        self.dlatent_avg = None

    def names(self, parts):
        return [n for n in self.params if self.part[n] in parts]


def _param_specs(cfg):
    """(name, shape, init, init std, lr coefficient, part): init 'normal' | 'zeros' | 'ones'."""
    L, C, N = cfg.latent, cfg.channels, cfg.layers
    out = []

    def lin(prefix, fin, fout, gain, lrmul, part):
        std = gain / math.sqrt(fin)
        out.append((prefix + ".weight", (fout, fin), "normal", std, std * lrmul, part))
        out.append((prefix + ".bias", (fout,), "zeros", 0.0, lrmul, part))

    def conv(name, shape, fan_in, gain, part):
        std = gain / math.sqrt(fan_in)
        out.append((name, shape, "normal", std, std, part))

    def plain(name, shape, init, part):
        out.append((name, shape, init, 0.0, 1.0, part))

    s2 = math.sqrt(2.0)
    for i in range(cfg.mapping):
        lin("mapping_f.map_blocks.%d.fc" % i, L, L, s2, 0.1, "F")
    plain("decoder.const", (1, cfg.g_channels(0), 4, 4), "ones", "G")
    for i in range(N):
        co = cfg.g_channels(i)
        ci = cfg.g_channels(i - 1) if i > 0 else co
        p = "decoder.decode_block.%d." % i
        if i > 0:
            fused = 2 ** (i + 2) >= 128
            conv(p + "conv_1.weight", (ci, co, 3, 3) if fused else (co, ci, 3, 3), 9 * ci, s2, "G")
        for k in (1, 2):
            plain(p + "noise_weight_%d" % k, (1, co, 1, 1), "zeros", "G")
            plain(p + "bias_%d" % k, (1, co, 1, 1), "zeros", "G")
            lin(p + "style_%d" % k, L, 2 * co, 1.0, 1.0, "G")
        conv(p + "conv_2.weight", (co, co, 3, 3), 9 * co, s2, "G")
    for i in range(N):
        co = cfg.g_channels(i)
        conv("decoder.to_rgb.%d.to_rgb.weight" % i, (C, co, 1, 1), co, 0.03, "G")
        out.append(("decoder.to_rgb.%d.to_rgb.bias" % i, (C,), "zeros", 0.0, 1.0, "G"))
    for j in range(N):
        ci = cfg.e_in(j)
        conv("encoder.from_rgb.%d.from_rgb.weight" % j, (ci, C, 1, 1), C, s2, "E")
        out.append(("encoder.from_rgb.%d.from_rgb.bias" % j, (ci,), "zeros", 0.0, 1.0, "E"))
    for j in range(N):
        ci, co = cfg.e_in(j), cfg.e_out(j)
        p = "encoder.encode_block.%d." % j
        conv(p + "conv_1.weight", (ci, ci, 3, 3), 9 * ci, s2, "E")
        plain(p + "bias_1", (1, ci, 1, 1), "zeros", "E")
        conv(p + "conv_2.weight", (co, ci, 3, 3), 9 * ci, s2, "E")
        plain(p + "bias_2", (1, co, 1, 1), "zeros", "E")
        lin(p + "style_1", 2 * ci, L, s2, 1.0, "E")
        lin(p + "style_2", 2 * co, L, s2, 1.0, "E")
    for i, (fin, fout) in enumerate(((L, L), (L, L), (L, 2 * L))):
        lin("mapping_d.map_blocks.%d" % i, fin, fout, s2, 0.1, "D")
    return out


def build_model(cfg, seed=0, device="cpu", ema=True):
    """A fresh model: stored weights N(0, (gain/sqrt(fan_in))^2), biases, noise weights 0, the
    constant 1; the EMA copy (when ema) a copy of it; dlatent_avg 0."""
    _import_torch()
    gen = torch.Generator().manual_seed(int(seed))
    m = Model(cfg)
    for name, shape, init, std, coef, part in _param_specs(cfg):
        if init == "normal":
            t = torch.randn(*shape, generator=gen) * std
        elif init == "ones":
            t = torch.ones(*shape)
        else:
            t = torch.zeros(*shape)
        m.params[name] = t.to(device).requires_grad_(True)
        m.coef[name] = coef
        m.part[name] = part
    m.ema = {n: p.detach().clone() for n, p in m.params.items()} if ema else {}
    m.dlatent_avg = torch.zeros(cfg.style_count, cfg.latent, device=device)
    m.blur = {}
    return m


def _reference_name(name):
    """The reference's state_dict name of a libalae parameter name (lib/nn/style_net.c)."""
    import re
    rules = ((r"^F\.dense\.(\d+)\.", r"mapping_f.map_blocks.\1.fc."),
             (r"^D\.dense\.(\d+)\.", r"mapping_d.map_blocks.\1."),
             (r"^G\.const$", "decoder.const"),
             (r"^G\.block\.(\d+)\.noise_(\d)$", r"decoder.decode_block.\1.noise_weight_\2"),
             (r"^G\.block\.(\d+)\.", r"decoder.decode_block.\1."),
             (r"^G\.to_rgb\.(\d+)\.", r"decoder.to_rgb.\1.to_rgb."),
             (r"^E\.from_rgb\.(\d+)\.", r"encoder.from_rgb.\1.from_rgb."),
             (r"^E\.block\.(\d+)\.", r"encoder.encode_block.\1."))
    for pattern, repl in rules:
        if re.match(pattern, name):
            return re.sub(pattern, repl, name)
    raise KeyError("no reference name for libalae parameter " + name)


def load_libalae_weights(model, path):
    """Replaces model's parameters by those of a libalae model file (alae_model_save), tensor by
    tensor straight from the file (no second copy of the weights at any time)."""
    import numpy as np
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        header.pop("__metadata__", None)
        base = 8 + n
        for name, info in header.items():
            if info["dtype"] != "F32":
                continue
            if name == "dlatent_avg":
                continue
            ref = _reference_name(name)
            want = tuple(model.params[ref].shape)
            b, e = info["data_offsets"]
            f.seek(base + b)
            arr = np.fromfile(f, dtype="<f4", count=(e - b) // 4)
            assert arr.size == int(np.prod(want)), (name, info["shape"], want)
            model.params[ref] = torch.from_numpy(arr.reshape(want))
    model.ema = {}


# ---------------------------------------------------------------- building blocks

def _blur(m, x):
    c = x.shape[1]
    k = m.blur.get((c, x.device))
    if k is None:
        f = torch.tensor([1.0, 2.0, 1.0], device=x.device)
        k = (f[:, None] * f[None, :] / 16.0).expand(c, 1, 3, 3).contiguous()
        m.blur[(c, x.device)] = k
    return F.conv2d(x, k, padding=1, groups=c)


def _kernel4(w):
    """The fused resampling kernel: pad the 3x3 kernel to 5x5, sum its four 4x4 corners."""
    w = F.pad(w, (1, 1, 1, 1))
    return w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]


def _upscale2d(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


def _downscale2d(x):
    return F.avg_pool2d(x, 2, 2)


def _style_mod(x, y):
    c = x.shape[1]
    y = y.view(y.shape[0], 2, c, 1, 1)
    return torch.addcmul(y[:, 1], x, y[:, 0] + 1.0)


def _linear(p, x, name):
    return F.linear(x, p[name + ".weight"], p[name + ".bias"])


def _stats(x):
    mu = torch.mean(x, dim=(2, 3), keepdim=True)
    std = torch.sqrt(torch.mean((x - mu) ** 2, dim=(2, 3), keepdim=True))
    return torch.cat((mu, std), dim=1).view(x.shape[0], -1)


# ---------------------------------------------------------------- networks

def net_F(m, p, z):
    h = z * torch.rsqrt(torch.mean(z * z, dim=1, keepdim=True) + 1e-8)
    for i in range(m.cfg.mapping):
        h = F.leaky_relu(_linear(p, h, "mapping_f.map_blocks.%d.fc" % i), SLOPE)
    return h


def net_D(m, p, w):
    h = w
    for i in range(3):
        h = _linear(p, h, "mapping_d.map_blocks.%d" % i)
    return h[:, m.cfg.latent]


NOISE_OFF = "off"


def _noise(shape_like, batch, noise, device):
    """The next noise map [batch, 1, H, W]: from the iterator `noise` when given, zeros for
    NOISE_OFF (libalae's ALAE_NOISE_OFF), else fresh."""
    if noise is NOISE_OFF:
        return torch.zeros(1, 1, shape_like.shape[2], shape_like.shape[3], device=device)
    if noise is not None:
        return next(noise)
    return torch.randn(batch, 1, shape_like.shape[2], shape_like.shape[3], device=device)


def _decode_block(m, p, i, x, styles, noise):
    pre = "decoder.decode_block.%d." % i
    if i > 0:
        if 2 ** (i + 2) >= 128:
            x = F.conv_transpose2d(x, _kernel4(p[pre + "conv_1.weight"]), stride=2, padding=1)
        else:
            x = F.conv2d(_upscale2d(x), p[pre + "conv_1.weight"], padding=1)
        x = _blur(m, x)
    x = torch.addcmul(x, p[pre + "noise_weight_1"], _noise(x, x.shape[0], noise, x.device))
    x = F.leaky_relu(x + p[pre + "bias_1"], SLOPE)
    x = F.instance_norm(x, eps=1e-8)
    x = _style_mod(x, _linear(p, styles[:, 2 * i], pre + "style_1"))
    x = F.conv2d(x, p[pre + "conv_2.weight"], padding=1)
    x = torch.addcmul(x, p[pre + "noise_weight_2"], _noise(x, x.shape[0], noise, x.device))
    x = F.leaky_relu(x + p[pre + "bias_2"], SLOPE)
    x = F.instance_norm(x, eps=1e-8)
    return _style_mod(x, _linear(p, styles[:, 2 * i + 1], pre + "style_2"))


def _to_rgb(p, x, i):
    return F.conv2d(x, p["decoder.to_rgb.%d.to_rgb.weight" % i], p["decoder.to_rgb.%d.to_rgb.bias" % i])


def net_G(m, p, styles, lod, blend=1.0, noise=None):
    """styles [N, 2*layers, L]; noise: None (fresh maps) or an iterator over the maps in draw
    order (block 0 n1 [1,1,4,4], block 0 n2 [N,1,4,4], block 1 n1, ...)."""
    x = p["decoder.const"]
    if blend == 1.0 or lod == 0:
        for i in range(lod + 1):
            x = _decode_block(m, p, i, x, styles, noise)
        return _to_rgb(p, x, lod)
    for i in range(lod):
        x = _decode_block(m, p, i, x, styles, noise)
    prev = _upscale2d(_to_rgb(p, x, lod - 1))
    cur = _to_rgb(p, _decode_block(m, p, lod, x, styles, noise), lod)
    return torch.lerp(prev, cur, blend)


def _encode_block(m, p, j, x):
    pre = "encoder.encode_block.%d." % j
    x = F.leaky_relu(F.conv2d(x, p[pre + "conv_1.weight"], padding=1) + p[pre + "bias_1"], SLOPE)
    s1 = _stats(x)
    x = F.instance_norm(x, eps=1e-5)
    x = _blur(m, x)
    if x.shape[2] >= 128:
        x = F.conv2d(x, _kernel4(p[pre + "conv_2.weight"]) * 0.25, stride=2, padding=1)
    else:
        x = _downscale2d(F.conv2d(x, p[pre + "conv_2.weight"], padding=1))
    x = F.leaky_relu(x + p[pre + "bias_2"], SLOPE)
    s2 = _stats(x)
    x = F.instance_norm(x, eps=1e-5)
    return x, _linear(p, s1, pre + "style_1"), _linear(p, s2, pre + "style_2")


def _from_rgb(p, x, j):
    pre = "encoder.from_rgb.%d.from_rgb." % j
    return F.leaky_relu(F.leaky_relu(F.conv2d(x, p[pre + "weight"], p[pre + "bias"]), SLOPE), SLOPE)


def net_E(m, p, img, lod, blend=1.0):
    N = m.cfg.layers
    f = N - 1 - lod
    x = _from_rgb(p, img, f)
    if blend == 1.0 or lod == 0:
        acc = 0
        for j in range(f, N):
            x, w1, w2 = _encode_block(m, p, j, x)
            acc = acc + w1 + w2
        return acc
    x, w1, w2 = _encode_block(m, p, f, x)
    acc = w1 * blend + w2 * blend
    prev = _from_rgb(p, _downscale2d(img), f + 1)
    x = torch.lerp(prev, x, blend)
    for j in range(f + 1, N):
        x, w1, w2 = _encode_block(m, p, j, x)
        acc = acc + w1 + w2
    return acc


def blend_reals(x, blend):
    if blend == 1.0:
        return x
    return x * blend + _upscale2d(_downscale2d(x)) * (1.0 - blend)


# ---------------------------------------------------------------- LREQAdam

class LREQAdam:
    """v = b2 v + (1-b2) g^2; p -= lr sqrt(1-b2^t) coef g / (sqrt(v)+eps); None gradients skip."""

    def __init__(self, model, names, lr, beta2=BETA2, eps=EPS):
        self.model, self.names = model, list(names)
        self.lr, self.beta2, self.eps = lr, beta2, eps
        self.v = {n: torch.zeros_like(model.params[n]) for n in self.names}
        self.t = {n: 0 for n in self.names}

    def step(self, grads):
        with torch.no_grad():
            for n in self.names:
                g = grads.get(n)
                if g is None:
                    continue
                self.t[n] += 1
                step = self.lr * math.sqrt(1.0 - self.beta2 ** self.t[n]) * self.model.coef[n]
                v = self.v[n]
                v.mul_(self.beta2).addcmul_(g, g, value=1.0 - self.beta2)
                self.model.params[n].addcdiv_(g, v.sqrt().add_(self.eps), value=-step)


class Optimizers:
    def __init__(self, model, lr):
        self.ed = LREQAdam(model, model.names("ED"), lr)
        self.fg = LREQAdam(model, model.names("FG"), lr)


# ---------------------------------------------------------------- training iteration

def _update_dlatent_avg(model, w):
    with torch.no_grad():
        model.dlatent_avg.add_((1.0 - DLATENT_BETA) * (w.mean(dim=0)[None, :] - model.dlatent_avg))


def _update_ema(model, batch):
    rate = 1.0 - 0.5 ** (batch / EMA_HALF_LIFE)
    with torch.no_grad():
        for n, p in model.params.items():
            model.ema[n].add_(rate * (p - model.ema[n]))


def _grads(loss, model, names):
    g = torch.autograd.grad(loss, [model.params[n] for n in names], allow_unused=True)
    return dict(zip(names, g))


def _styles(model, p, w, lod, mixing, rng):
    """w tiled to every style row; with style mixing (probability MIXING_PROB, one coin and one
    crossover in 1..2(lod+1) per batch) rows >= crossover come from F of a second latent."""
    rows = model.cfg.style_count
    styles = w[:, None, :].expand(w.shape[0], rows, w.shape[1])
    if mixing and rng.random() < MIXING_PROB:
        w2 = net_F(model, p, torch.randn(w.shape, device=w.device))
        crossover = rng.randint(1, 2 * (lod + 1))
        mask = (torch.arange(rows, device=w.device) >= crossover)[None, :, None]
        styles = torch.where(mask, w2[:, None, :].expand_as(styles), styles)
    return styles


def train_step(model, opt, x, lod, blend=1.0, z=None, noise=None, mixing=True, rng=None, ema=True, record=None):
    """One ALAE iteration. x [N,C,R,R] real batch at the level's resolution in [-1, 1].
    z: None or (z_d, z_g, z_a); noise: None or three iterators over the G noise maps of the
    three generator calls. record: None or a dict that receives the losses' intermediates and
    gradients (fixture check). Returns (loss_d, loss_g, lae, r1) as floats."""
    import random
    rng = rng or random
    p = model.params
    n, L, dev = x.shape[0], model.cfg.latent, x.device
    zs = z if z is not None else [torch.randn(n, L, device=dev) for _ in range(3)]
    ns = noise if noise is not None else (None, None, None)
    # I: D-step (E and D)
    with torch.no_grad():
        w = net_F(model, p, zs[0])
        _update_dlatent_avg(model, w)
        x_fake = net_G(model, p, _styles(model, p, w, lod, mixing, rng), lod, blend, ns[0])
    x_real = blend_reals(x, blend).detach().requires_grad_(True)
    d_real = net_D(model, p, net_E(model, p, x_real, lod, blend))
    d_fake = net_D(model, p, net_E(model, p, x_fake, lod, blend))
    real_grads, = torch.autograd.grad(d_real.sum(), x_real, create_graph=True)
    r1 = (0.5 * R1_GAMMA) * real_grads.pow(2).sum(dim=(1, 2, 3))
    loss_d = (F.softplus(d_fake) + F.softplus(-d_real) + r1).mean()
    g_d = _grads(loss_d, model, model.names("ED"))
    opt.ed.step(g_d)
    if record is not None:
        record.update(x_real=x_real.detach(), d_real=d_real.detach(), d_fake=d_fake.detach(), grad_loss_d=g_d,
                      after_d={k: v.detach().clone() for k, v in p.items()})
    # II: G-step (F and G; E frozen)
    w = net_F(model, p, zs[1])
    _update_dlatent_avg(model, w)
    loss_g = F.softplus(-net_D(model, p, net_E(model, p, net_G(model, p, _styles(model, p, w, lod, mixing, rng),
                                                                  lod, blend, ns[1]), lod, blend))).mean()
    g_g = _grads(loss_g, model, model.names("FG"))
    opt.fg.step(g_g)
    if record is not None:
        record.update(grad_loss_g=g_g, after_g={k: v.detach().clone() for k, v in p.items()})
    # III: latent step (E, G, F; D's zero-gradient step)
    w = net_F(model, p, zs[2])
    _update_dlatent_avg(model, w)
    rows = model.cfg.style_count
    w_rec = net_E(model, p, net_G(model, p, w[:, None, :].expand(n, rows, L), lod, blend, ns[2]), lod, blend)
    lae = (w_rec - w.detach()).pow(2).mean()
    grads = _grads(lae, model, model.names("EFG"))
    if record is not None:
        record.update(grad_lae=dict(grads))
    for name in model.names("D"):
        grads[name] = torch.zeros_like(p[name])
    opt.ed.step(grads)
    opt.fg.step(grads)
    if ema:
        _update_ema(model, n)
    return float(loss_d), float(loss_g), float(lae), float(r1.mean())


# ---------------------------------------------------------------- fixture check

def check_fixture(path):
    """style16.safetensors: both sets (blend 1 and blend 0.5). Forward outputs, R1, one full
    iteration (losses, every gradient of the three steps, the parameters after the D-step, the
    G-step and the iteration, the running mean of w), with the fixture's tolerances (its README
    section 11). Returns True when everything is within them."""
    import numpy as np
    _import_torch()
    ts, meta = read_safetensors(path)
    mcfg = json.loads(meta["model_cfg"])
    cases = json.loads(meta["cases"])
    cfg = Config(image=2 ** (mcfg["LAYER_COUNT"] + 1), channels=mcfg["CHANNELS"], start=mcfg["START_CHANNEL_COUNT"],
                 maxc=mcfg["MAX_CHANNEL_COUNT"], latent=mcfg["LATENT_SPACE_SIZE"], mapping=mcfg["MAPPING_LAYERS"])
    ok = True
    rows = []

    def rel(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))

    def check(label, got, ref, tol):
        nonlocal ok
        r = rel(got, ref)
        good = r <= tol and np.shape(got) == np.shape(ref)
        ok &= good
        rows.append((label, r, tol, "ok" if good else "FAIL"))
        return r

    specs = _param_specs(cfg)
    for case in cases:
        sfx, lod, blend, lr = case["suffix"], case["lod"], float(case["blend"]), case["lr"][0]
        model = build_model(cfg, 0)
        n_coef_bad = 0
        with torch.no_grad():
            for name, shape, _, _, coef, _ in specs:
                ref = ts[name]
                assert tuple(ref.shape) == tuple(shape), (name, ref.shape, shape)
                model.params[name].copy_(torch.from_numpy(ref))
                rc = json.loads(meta["lr_equalization_coef"]).get(name)
                if abs((rc if rc is not None else 1.0) - coef) > 1e-6 * coef:
                    n_coef_bad += 1
        ok &= n_coef_bad == 0
        rows.append(("%s parameters: %d, names/shapes/lr coefficients" % (sfx or "blend 1", len(specs)), n_coef_bad, 0,
                     "ok" if n_coef_bad == 0 else "FAIL"))
        model.dlatent_avg.copy_(torch.from_numpy(ts["dlatent_avg.buff"]))
        p = model.params
        T = lambda k: torch.from_numpy(ts[k + sfx])  # noqa: E731
        shared = lambda k: torch.from_numpy(ts[k + sfx] if k + sfx in ts else ts[k])  # noqa: E731
        noise = lambda a, b: iter([T("noise.%d" % k) for k in range(a, b)])  # noqa: E731
        # forward section at theta0
        with torch.no_grad():
            fw = {"w": net_F(model, p, shared("z"))}
            fw["x_fake"] = net_G(model, p, T("styles"), lod, blend, noise(0, 6))
            fw["w_fake"] = net_E(model, p, T("x_fake"), lod, blend)
            fw["d_fake"] = net_D(model, p, fw["w_fake"])
            fw["w_real"] = net_E(model, p, T("x"), lod, blend)
            fw["d_real"] = net_D(model, p, fw["w_real"])
        for k, v in fw.items():
            check(k + sfx, v.numpy(), ts[k + sfx], 5e-5)
        check("x" + sfx + " (blended reals)", blend_reals(torch.from_numpy(ts["x"]), blend).numpy(), ts["x" + sfx], 5e-5)
        # R1 alone at theta0
        xr = T("x").clone().requires_grad_(True)
        d = net_D(model, p, net_E(model, p, xr, lod, blend))
        rg, = torch.autograd.grad(d.sum(), xr, create_graph=True)
        r1s = 5.0 * rg.pow(2).sum(dim=(1, 2, 3))
        check("r1" + sfx, r1s.mean().detach().numpy(), ts["r1" + sfx], 5e-5)
        check("r1.per_sample" + sfx, r1s.detach().numpy(), ts["r1.per_sample" + sfx], 5e-5)
        check("r1.real_grads" + sfx, rg.detach().numpy(), ts["r1.real_grads" + sfx], 5e-5)
        g_r1 = _grads(r1s.mean(), model, model.names("ED"))
        worst, missing = 0.0, 0
        for name, g in g_r1.items():
            key = "grad.r1.%s%s" % (name, sfx)
            if key in ts:
                worst = max(worst, check(key, g.numpy() if g is not None else np.zeros(1), ts[key], 1e-4))
                rows.pop()
            elif g is not None and float(g.abs().max()) != 0.0:
                missing += 1
        good = worst <= 1e-4 and missing == 0
        ok &= good
        rows.append(("grad.r1.*%s (worst)" % sfx, worst, 1e-4, "ok" if good else "FAIL"))
        # one iteration with the fixture's latents and noise maps
        opt = Optimizers(model, lr)
        rec = {}
        zs = (T("noise.6"), T("noise.13"), T("noise.20"))
        ns = (noise(7, 13), noise(14, 20), noise(21, 27))
        loss_d, loss_g, lae, _ = train_step(model, opt, torch.from_numpy(ts["x"]), lod, blend, z=zs, noise=ns, mixing=False,
                                            ema=False, record=rec)
        check("loss_d" + sfx, loss_d, ts["loss_d" + sfx], 5e-5)
        check("loss_g" + sfx, loss_g, ts["loss_g" + sfx], 5e-5)
        check("lae" + sfx, lae, ts["lae" + sfx], 5e-5)
        for loss in ("loss_d", "loss_g", "lae"):
            worst, n_checked, bad_presence = 0.0, 0, 0
            for name, g in rec["grad_" + loss].items():
                key = "grad.%s.%s%s" % (loss, name, sfx)
                if key in ts:
                    if g is None:
                        bad_presence += 1
                        continue
                    worst = max(worst, rel(g.numpy(), ts[key]))
                    n_checked += 1
                elif g is not None and float(g.abs().max()) != 0.0:
                    bad_presence += 1
            good = worst <= 1e-4 and bad_presence == 0 and n_checked > 0
            ok &= good
            rows.append(("grad.%s.*%s (%d tensors, worst)" % (loss, sfx, n_checked), worst, 1e-4,
                         "ok" if good else "FAIL (%d missing/extra)" % bad_presence))
        for stage, params in (("after_d", rec["after_d"]), ("after_g", rec["after_g"]),
                              ("after", {k: v.detach() for k, v in p.items()})):
            worst, n_checked = 0.0, 0
            for name, t in params.items():
                key = "%s.%s%s" % (stage, name, sfx)
                if key not in ts:      # after_d stores E and D, after_g F and G
                    continue
                ref = ts[key]
                n_checked += 1
                got = t.numpy().astype(np.float64)
                dd = np.abs(got - ref) - 1e-6 * np.maximum(1.0, np.abs(ref))
                worst = max(worst, float(np.max(dd)) / (lr * model.coef[name]))
            good = worst <= 0.25 and n_checked > 0
            ok &= good
            rows.append(("%s.*%s (%d tensors, worst |diff| in Adam steps)" % (stage, sfx, n_checked), worst, 0.25,
                         "ok" if good else "FAIL"))
        check("after.dlatent_avg.buff" + sfx, model.dlatent_avg.numpy(), ts["after.dlatent_avg.buff" + sfx], 5e-5)
        steps_bad = sum(1 for name, want in case["adam_steps"].items()
                        if (opt.ed.t.get(name) or opt.fg.t.get(name) or 0) != want)
        ok &= steps_bad == 0
        rows.append(("adam step counts%s" % sfx, steps_bad, 0, "ok" if steps_bad == 0 else "FAIL"))
    print("fixture %s (reference torch %s), this torch %s" % (path, meta.get("torch_version", "?"), torch.__version__))
    wd = max(len(r[0]) for r in rows)
    for label, r, tol, verdict in rows:
        print("  %-*s %10.3g  (tol %.3g)  %s" % (wd, label, r, tol, verdict))
    print("FIXTURE %s" % ("PASS" if ok else "FAIL"))
    return ok


# ---------------------------------------------------------------- benchmark

def conv_gflop(cfg, lod, batch, mode):
    """Multiply-adds x 2 of the convolutions and linears of one call (encode / decode) per the
    layer shapes; for training, docs/alae-reference.md section 8's rule 7 G + 14 E per sample."""
    def g_fwd():
        fl = 0
        for i in range(lod + 1):
            r, co = 2 ** (i + 2), cfg.g_channels(i)
            ci = cfg.g_channels(i - 1) if i > 0 else co
            fl += (9 * ci * co * r * r if i > 0 else 0) + 9 * co * co * r * r
        return 2 * fl + 2 * cfg.g_channels(lod) * cfg.channels * (2 ** (lod + 2)) ** 2

    def e_fwd():
        fl, f = 0, cfg.layers - 1 - lod
        r = 2 ** (lod + 2)
        fl += cfg.channels * cfg.e_in(f) * r * r
        for j in range(f, cfg.layers):
            ci, co = cfg.e_in(j), cfg.e_out(j)
            fl += 9 * ci * ci * r * r + 9 * ci * co * r * r
            r //= 2
        return 2 * fl
    g, e = g_fwd(), e_fwd()
    per = {"encode": e, "decode": g, "reconstruct": e + g, "train": 7 * g + 14 * e}[mode]
    return per * batch / 1e9


def benchmark(a):
    _import_torch()
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    if cuda:   # exact float32 unless --tf32 (cuDNN allows TF32 convolutions by default)
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cudnn.benchmark = a.cudnn_benchmark   # PyTorch's default: off
    cfg = preset_config(a.preset)
    lod = a.lod
    res = 2 ** (lod + 2)
    lib = openblas()
    print("torch %s: device %s, torch threads %d, OpenBLAS threads %s, OMP_WAIT_POLICY=%s, mkldnn %s"
          % (torch.__version__, dev, torch.get_num_threads(), lib.openblas_get_num_threads() if lib else "n/a",
             os.environ.get("OMP_WAIT_POLICY", "(unset)"), torch.backends.mkldnn.is_available()))
    torch.manual_seed(a.seed)
    import random
    rng = random.Random(a.seed)
    model = build_model(cfg, a.seed, dev, ema=a.mode == "train")   # inference: one set of weights
    if a.weights:
        load_libalae_weights(model, a.weights)
    x = (torch.rand(a.batch, cfg.channels, res, res, device=dev) * 2 - 1)
    if a.input:
        import numpy as np
        x = torch.from_numpy(np.load(a.input).astype(np.float32)).to(dev)
        assert tuple(x.shape) == (a.batch, cfg.channels, res, res), x.shape
    noise = NOISE_OFF if a.noise == "off" else None
    w = torch.randn(a.batch, cfg.latent, device=dev)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    if a.mode == "train":
        opt = Optimizers(model, cfg.lr)

        def one():
            return train_step(model, opt, x, lod, 1.0, mixing=True, rng=rng)
    elif a.mode == "encode":
        p = {k: v.detach() for k, v in model.params.items()}

        def one():
            with torch.no_grad():
                return net_E(model, p, x, lod)
    elif a.mode == "reconstruct":
        p = {k: v.detach() for k, v in model.params.items()}

        def one():
            with torch.no_grad():
                code = net_E(model, p, x, lod)
                return net_G(model, p, code[:, None, :].expand(a.batch, cfg.style_count, cfg.latent), lod, noise=noise)
    else:
        p = {k: v.detach() for k, v in model.params.items()}

        def one():
            with torch.no_grad():
                return net_G(model, p, w[:, None, :].expand(a.batch, cfg.style_count, cfg.latent), lod, noise=noise)
    times, cpu = [], []
    out = None
    for i in range(a.warmup):
        out = one()
    prof = torch.autograd.profiler.profile() if a.profile else None
    if prof is not None:
        prof.__enter__()
    for i in range(a.iters):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        out = None   # the previous result is not kept alive through the call
        out = one()
        sync()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if prof is not None:
        prof.__exit__(None, None, None)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))
    if a.compare:
        import numpy as np
        ref = np.load(a.compare)
        got = out.detach().cpu().numpy()
        diff = float(np.max(np.abs(got.astype(np.float64) - ref)))
        scale = float(np.max(np.abs(ref)))
        print("COMPARE max_abs_diff=%.3g max_abs_ref=%.3g rel=%.3g shape=%s" % (diff, scale, diff / max(scale, 1e-30),
                                                                              "x".join(map(str, got.shape))))
    times.sort()
    cpu.sort()
    med, cpu_med = times[len(times) // 2], cpu[len(cpu) // 2]
    rss = peak_rss_mib()
    gf = conv_gflop(cfg, lod, a.batch, a.mode)
    extra = ""
    if cuda:
        extra = " peak_device_mib=%.1f" % (torch.cuda.max_memory_allocated() / 1048576.0)
    print("%s %s %dpx batch %d, %d thread(s): %d measured after %d warm-up; min %.4f s, median %.4f s, max %.4f s; "
          "%.1f GFLOP (convolutions, estimate) -> %.1f GFLOP/s" % (a.preset, a.mode, res, a.batch, a.threads, a.iters,
                                                                 a.warmup, times[0], med, times[-1], gf, gf / med))
    print("RESULT torch preset=%s mode=%s res=%d batch=%d threads=%d median_s=%.6f cpu_s=%.6f items_per_s=%.2f "
          "peak_rss_mib=%.1f gflop=%.1f%s" % (a.preset, a.mode, res, a.batch, a.threads, med, cpu_med, a.batch / med, rss,
                                              gf, extra))


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="mnist")
    ap.add_argument("--resolution", type=int, help="level's image side (default: mnist 32, celeba 64)")
    ap.add_argument("--lod", type=int, help="level of detail (resolution 2^(lod+2)); overrides --resolution")
    ap.add_argument("--batch", type=int, help="default: mnist 64, celeba 32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5, help="measured iterations / calls")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--mode", choices=("train", "encode", "decode", "reconstruct"), default="train")
    ap.add_argument("--weights", metavar="PATH", help="a libalae model file (alae_model_save) to run instead of fresh weights")
    ap.add_argument("--noise", choices=("off", "sample"), default="sample",
                    help="generator noise maps: fresh per sample (default) or none (libalae ALAE_NOISE_OFF)")
    ap.add_argument("--input", metavar="X.npy", help="the images of encode / reconstruct (float32 [N, C, S, S])")
    ap.add_argument("--compare", metavar="Y.npy", help="print the largest difference of the last result to this array")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:k]")
    ap.add_argument("--tf32", action="store_true", help="cuda: allow TF32 matmuls and convolutions (default off)")
    ap.add_argument("--cudnn-benchmark", action="store_true",
                    help="cuda: let cuDNN time its algorithms per shape (torch.backends.cudnn.benchmark; default off)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--omp-wait-policy", choices=("passive", "active", "default"), default="passive")
    ap.add_argument("--profile", action="store_true", help="torch.autograd.profiler table of the measured calls")
    ap.add_argument("--check-fixture", metavar="PATH", help="verify against style16.safetensors and exit")
    a = ap.parse_args(argv)
    set_threads(a.threads, a.omp_wait_policy)
    if a.check_fixture:
        return 0 if check_fixture(a.check_fixture) else 1
    res, batch = DEFAULT_CASE[a.preset]
    if a.lod is None:
        res = a.resolution or res
        a.lod = int(round(math.log2(res))) - 2
        if 2 ** (a.lod + 2) != res:
            ap.error("--resolution must be a power of two")
    cfg = preset_config(a.preset)
    if not 0 <= a.lod < cfg.layers:
        ap.error("--lod must be in 0..%d for %s" % (cfg.layers - 1, a.preset))
    if a.batch is None:
        a.batch = batch
    benchmark(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
