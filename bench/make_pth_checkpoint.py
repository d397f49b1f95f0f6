#!/usr/bin/python3
"""Writes a checkpoint in the layout of the authors' published files (torch.save, the legacy
format of PyTorch < 1.6 by default) for a preset's shapes, from bench/pytorch_style_alae.py's
port: the import benchmark of docs/performance.md (issue 13). Needs PyTorch; the file is large
(ffhq: about 0.9 GB) and stays out of the repository.

    /usr/bin/python3 bench/make_pth_checkpoint.py --preset ffhq --out /tmp/ffhq.pth [--zip]

Content, as the authors' checkpointer writes it: "models" = discriminator, generator, mapping_tl,
mapping_fl (the training networks), their smoothed copies *_s, dlatent_avg {"buff": [2N, L]};
"auxiliary" = encoder_optimizer and decoder_optimizer (LREQAdam-like state dicts: per parameter a
step count and a second moment of its shape, param_groups), scheduler (last_epoch per optimizer),
tracker (objects of a class of the training script's own, tracker.RunningMeanTorch, holding lists
of tensors); "iteration". The blur kernels are included as buffers, as in the published files.
"""
import argparse
import os
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_style_alae as port  # noqa: E402

# the published configurations (alae-reference.md 3.2)
SHAPES = {
    "ffhq": dict(image=1024, channels=3, start=16, maxc=512, latent=512, mapping=8),
    "celeba-hq256": dict(image=256, channels=3, start=64, maxc=512, latent=512, mapping=8),
    "bedroom": dict(image=256, channels=3, start=32, maxc=512, latent=512, mapping=8),
    "celeba": dict(image=128, channels=3, start=64, maxc=256, latent=256, mapping=8),
}
NETWORKS = {"encoder.": "discriminator", "decoder.": "generator", "mapping_d.": "mapping_tl",
            "mapping_f.": "mapping_fl"}

tracker = types.ModuleType("tracker")


class RunningMeanTorch:
    def __init__(self, torch):
        self.values = [torch.tensor(float(i)) for i in range(100)]


RunningMeanTorch.__module__ = "tracker"
tracker.RunningMeanTorch = RunningMeanTorch
sys.modules["tracker"] = tracker


def state_dicts(torch, cfg, params):
    nets = {name: {} for name in NETWORKS.values()}
    for name, t in params.items():
        for prefix, net in NETWORKS.items():
            if name.startswith(prefix):
                nets[net][name[len(prefix):]] = t.detach().clone()
    blur = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    for i in range(cfg.layers):
        nets["generator"]["decode_block.%d.blur.weight" % i] = blur.expand(cfg.g_channels(i), 1, 3, 3).clone()
        nets["discriminator"]["encode_block.%d.blur.weight" % i] = blur.expand(cfg.e_in(i), 1, 3, 3).clone()
    return nets


def optimizer_state(torch, tensors, lr):
    state = {i: {"step": 1000, "exp_avg_sq": torch.rand_like(t) * 1e-4} for i, t in enumerate(tensors)}
    groups = [{"lr": lr, "betas": (0.0, 0.99), "eps": 1e-8, "weight_decay": 0, "params": list(range(len(tensors)))}]
    return {"state": state, "param_groups": groups}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="ffhq", choices=sorted(SHAPES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--zip", action="store_true", help="the zip format of PyTorch >= 1.6")
    a = ap.parse_args(argv)
    torch = port._import_torch()
    torch.manual_seed(1)
    t0 = time.time()
    cfg = port.Config(**SHAPES[a.preset])
    model = port.build_model(cfg, seed=1, ema=False)
    training = state_dicts(torch, cfg, model.params)
    smoothed = {k + "_s": {n: t + 0.01 for n, t in sd.items()} for k, sd in training.items()}
    models = {**training, **smoothed, "dlatent_avg": {"buff": torch.randn(1, cfg.latent).repeat(cfg.style_count, 1)}}
    ed = [t for n, t in model.params.items() if n.startswith(("encoder.", "mapping_d."))]
    fg = [t for n, t in model.params.items() if n.startswith(("decoder.", "mapping_f."))]
    aux = {"encoder_optimizer": optimizer_state(torch, ed, 0.003), "decoder_optimizer": optimizer_state(torch, fg, 0.003),
           "scheduler": {"last_epoch": [157, 157]},
           "tracker": {"tracks": {k: RunningMeanTorch(torch) for k in ("loss_d", "loss_g", "lae")},
                       "epochs": list(range(158)), "means": {"loss_d": [0.5] * 158}}}
    torch.save({"models": models, "auxiliary": aux, "iteration": 157}, a.out,
               _use_new_zipfile_serialization=a.zip)
    n = sum(t.numel() for t in model.params.values())
    print("wrote %s: %s, %s format, %d parameters per copy, %.0f MB, in %.1f s" % (
        a.out, a.preset, "zip" if a.zip else "legacy", n, os.path.getsize(a.out) / 1e6, time.time() - t0))


if __name__ == "__main__":
    main()
