"""Writes the seeds of the "pth" fuzz target (tests/fuzz/corpus/pth; run once with PyTorch, the
fuzzers and regression_driver read the committed files):

    /usr/bin/python3 tests/fuzz/make_pth_corpus.py

The model is the target's tiny StyleALAE (4 px, 1 channel, 2 channels, latent 2, 1 mapping
layer). ok_* files must import; every other file must be refused.
"""
import io
import os
import sys
import types
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "pth")

tracker = types.ModuleType("tracker")


class RunningMeanTorch:
    def __init__(self):
        self.values = [torch.tensor(0.5)]


RunningMeanTorch.__module__ = "tracker"
tracker.RunningMeanTorch = RunningMeanTorch
sys.modules["tracker"] = tracker


class CallsSystem:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


SHAPES = {
    "mapping_fl": {"map_blocks.0.fc.weight": [2, 2], "map_blocks.0.fc.bias": [2]},
    "mapping_tl": {"map_blocks.0.weight": [2, 2], "map_blocks.0.bias": [2], "map_blocks.1.weight": [2, 2],
                   "map_blocks.1.bias": [2], "map_blocks.2.weight": [4, 2], "map_blocks.2.bias": [4]},
    "generator": {"const": [1, 2, 4, 4], "decode_block.0.noise_weight_1": [1, 2, 1, 1],
                  "decode_block.0.bias_1": [1, 2, 1, 1], "decode_block.0.blur.weight": [2, 1, 3, 3],
                  "decode_block.0.style_1.weight": [4, 2], "decode_block.0.style_1.bias": [4],
                  "decode_block.0.conv_2.weight": [2, 2, 3, 3], "decode_block.0.noise_weight_2": [1, 2, 1, 1],
                  "decode_block.0.bias_2": [1, 2, 1, 1], "decode_block.0.style_2.weight": [4, 2],
                  "decode_block.0.style_2.bias": [4], "to_rgb.0.to_rgb.weight": [1, 2, 1, 1],
                  "to_rgb.0.to_rgb.bias": [1]},
    "discriminator": {"from_rgb.0.from_rgb.weight": [2, 1, 1, 1], "from_rgb.0.from_rgb.bias": [2],
                      "encode_block.0.conv_1.weight": [2, 2, 3, 3], "encode_block.0.bias_1": [1, 2, 1, 1],
                      "encode_block.0.blur.weight": [2, 1, 3, 3], "encode_block.0.conv_2.weight": [2, 2, 3, 3],
                      "encode_block.0.bias_2": [1, 2, 1, 1], "encode_block.0.style_1.weight": [2, 4],
                      "encode_block.0.style_1.bias": [2], "encode_block.0.style_2.weight": [2, 4],
                      "encode_block.0.style_2.bias": [2]},
}


def networks(suffix):
    return {name + suffix: {k: torch.randn(*shape) * 0.5 for k, shape in sd.items()} for name, sd in SHAPES.items()}


def auxiliary():
    w = torch.nn.Parameter(torch.randn(2))
    opt = torch.optim.Adam([w], lr=0.0015, betas=(0.0, 0.99))
    w.sum().backward()
    opt.step()
    return {"encoder_optimizer": opt.state_dict(), "tracker": {"loss": RunningMeanTorch(), "epochs": [0, 1.5]}}


def save(obj, name, legacy=True):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    data = buf.getvalue()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return data


def main():
    torch.manual_seed(1)
    os.makedirs(OUT, exist_ok=True)
    models = {**networks(""), **networks("_s"), "dlatent_avg": {"buff": torch.randn(2, 2)}}
    full = {"models": models, "auxiliary": auxiliary(), "iteration": 7}
    legacy = save(full, "ok_tiny_legacy")
    save(full, "ok_tiny_zip", legacy=False)
    smoothed = {k: v for k, v in models.items() if k.endswith("_s") or k == "dlatent_avg"}
    save({"models": smoothed, "auxiliary": {}}, "ok_smoothed_only")
    half = {k: v.half() for k, v in models["generator_s"].items()}
    save({"models": {**smoothed, "generator_s": half}, "auxiliary": {}}, "ok_float16_generator")
    # refused
    save({"models": {**smoothed, "generator_s": {**smoothed["generator_s"], "x": RunningMeanTorch()}}},
         "unknown_class_in_models")
    save({"models": smoothed, "auxiliary": {"evil": CallsSystem()}}, "os_system_in_auxiliary")
    save({"models": {k: v for k, v in smoothed.items() if k != "dlatent_avg"}}, "no_dlatent_avg")
    save({"models": {**smoothed, "extra_net": {"w": torch.zeros(1)}}}, "extra_network")
    save({"models": {**smoothed, "generator_s": {**smoothed["generator_s"], "const": torch.zeros(1, 3, 4, 4)}}},
         "misshaped_const")
    save({"models": {**smoothed, "mapping_fl_s": {k: v.long() for k, v in smoothed["mapping_fl_s"].items()}}},
         "integer_tensors")
    with open(os.path.join(OUT, "truncated_legacy"), "wb") as f:
        f.write(legacy[: len(legacy) // 2])
    # a zip archive without one of its storages
    src = zipfile.ZipFile(os.path.join(OUT, "ok_tiny_zip"))
    with zipfile.ZipFile(os.path.join(OUT, "zip_missing_storage"), "w", zipfile.ZIP_STORED) as z:
        for info in src.infolist():
            if not info.filename.endswith("/data/3"):
                z.writestr(info.filename, src.read(info.filename))
    # pickle bombs and odd opcodes
    raw = {
        "deep_nesting": b"\x80\x02" + b"]" * 300 + b"a" * 299 + b".",
        "memo_bomb": b"\x80\x02Nr\xff\xff\xff\x7f.",
        "huge_string": b"\x80\x02X\xff\xff\xff\x7f.",
        "unknown_opcode": b"\x80\x02\xff.",
        "global_os_system": b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.",
        "marks_bomb": b"\x80\x02" + b"(" * 5000 + b".",
    }
    for name, data in raw.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
