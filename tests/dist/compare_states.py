#!/usr/bin/env python3
"""Compares the float32 tensors of two safetensors files (a training state: parameters, smoothed
copy, optimizer moments): every tensor of A must exist in B with the same shape, and
|a - b| <= tol * (1 + |b|) elementwise. Exit status 0 when they match, 1 (with the worst element)
otherwise. No numpy: the standard library only.

Usage: compare_states.py A.safetensors B.safetensors TOL [NAME_PREFIX...]
(with prefixes, only tensors whose names start with one of them)"""
import array
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info.get("dtype") != "F32":
            continue
        begin, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(data[base + begin:base + end])
        if sys.byteorder != "little":
            values.byteswap()
        out[name] = (tuple(info["shape"]), values)
    return out


def main():
    a, b, tol = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
    prefixes = tuple(sys.argv[4:]) or ("",)
    names = [n for n in a if n.startswith(prefixes)]
    if not names:
        print("no tensors to compare in %s" % sys.argv[1])
        return 1
    worst, where = 0.0, ""
    for name in names:
        if name not in b or b[name][0] != a[name][0]:
            print("%s: missing or of another shape in %s" % (name, sys.argv[2]))
            return 1
        for i, (x, y) in enumerate(zip(a[name][1], b[name][1])):
            d = abs(x - y) / (tol * (1.0 + abs(y)))
            if d > worst or d != d:
                worst, where = (float("inf") if d != d else d), "%s[%d]: %.9g vs %.9g" % (name, i, x, y)
    if worst > 1.0:
        print("%d tensors; worst %.3g x tolerance %g at %s" % (len(names), worst, tol, where))
        return 1
    print("%d tensors match within %g (worst %.3g x tolerance)" % (len(names), tol, worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
