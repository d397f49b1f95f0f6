#!/usr/bin/env python3
"""Reconstructs images with an ALAE and interpolates between them in its latent space.

    reconstruct_interpolate.py --data IMAGES.idx[.gz] --out DIR [--model MODEL.safetensors]
                               [--steps 200] [--hidden 1024] [--n 8] [--frames 8]

With --model, uses that model file (from `alae train`, examples/c/train_mlp or
alae.Trainer.save_model); without it, first trains an mnist-fc model for --steps steps on the
data (a few hundred steps already give recognisable digits on MNIST) and saves it as
DIR/model.safetensors. Then writes

  DIR/reconstructions.png   the first N images (top row) above their reconstructions G(E(x))
  DIR/interpolation.png     one row per pair of consecutive images: G(w) for w moving linearly
                            from E(x_i) to E(x_i+1) in FRAMES steps

Needs the alae package (python/, see docs/python.md) and numpy; libalae is found through
$ALAE_LIBRARY or the other places docs/python.md lists.
"""

import argparse
import os
import sys

import numpy as np

try:
    import alae
except ImportError:  # running from the repository without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import alae


def train(data, args):
    """A fresh mnist-fc model trained for args.steps steps (batches in shuffled epoch order)."""
    model = alae.Model.from_preset("mnist-fc", seed=args.seed, hidden=args.hidden)
    trainer = alae.Trainer(model, lr=0.002, seed=args.seed)
    batch = min(args.batch, len(data))
    per_epoch = len(data) // batch
    images = data.read(for_model=model)  # the whole (small) set, in the model's range
    for step in range(args.steps):
        if step % per_epoch == 0:
            order = alae.shuffle_order(args.seed, step // per_epoch, len(data))
        start = (step % per_epoch) * batch
        stats = trainer.step(images[order[start:start + batch]])
        if (step + 1) % max(1, args.steps // 5) == 0:
            print("step %d: loss_d %.3f loss_g %.3f loss_ae %.3f" % (stats.step, stats.loss_d, stats.loss_g,
                                                                     stats.loss_ae))
    path = os.path.join(args.out, "model.safetensors")
    trainer.save_model(path)
    print("saved the smoothed model as", path)
    return trainer.smoothed_model()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="IDX images")
    ap.add_argument("--out", required=True, help="output directory (created if missing)")
    ap.add_argument("--model", help="a model file; without it a model is trained first")
    ap.add_argument("--steps", type=int, default=200, help="training steps without --model (200)")
    ap.add_argument("--hidden", type=int, default=1024, help="hidden units of the trained model (1024)")
    ap.add_argument("--batch", type=int, default=64, help="training batch (64)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=8, help="images to reconstruct (8)")
    ap.add_argument("--frames", type=int, default=8, help="images per interpolation row (8)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    with alae.Dataset(args.data) as data:
        model = alae.Model.load(args.model) if args.model else train(data, args)
        n = min(args.n, len(data))
        x = data.read(range(n), for_model=model)

        # Reconstructions: G(E(x)).
        rec = model.reconstruct(x)
        path = os.path.join(args.out, "reconstructions.png")
        alae.write_png_grid(path, np.concatenate([x, rec]), columns=n, model=model)
        print("reconstruction MSE %.4f; wrote %s" % (float(np.mean((x - rec) ** 2)), path))

        # Interpolations: decode points on the segment between consecutive codes.
        w = model.encode(x)
        t = np.linspace(0.0, 1.0, args.frames, dtype=np.float32)[None, :, None]
        path_w = (1 - t) * w[:-1, None, :] + t * w[1:, None, :]  # [n-1, frames, latent]
        frames = model.decode(path_w.reshape(-1, model.latent_dim))
        path = os.path.join(args.out, "interpolation.png")
        alae.write_png_grid(path, frames, columns=args.frames, model=model)
        print("wrote %s (%d rows of %d)" % (path, n - 1, args.frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
