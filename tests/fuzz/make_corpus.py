#!/usr/bin/env python3
"""Writes the seed corpus of the libalae fuzz targets (tests/fuzz/corpus/<target>/).

Run from anywhere: python3 tests/fuzz/make_corpus.py [--out DIR]. The files are committed; this
script documents how every seed was made and regenerates them byte for byte (no randomness, no
third-party modules).

Naming convention, checked by regression_driver.c: a seed whose name starts with "ok_" must be
ACCEPTED by its own target (so the fuzzer starts from inputs that reach the deep code); every
other seed is a nasty case that must be REJECTED cleanly (no crash, no leak, no sanitizer report,
no huge allocation). Every file is also replayed through every other target, which must not
crash either.
"""
import argparse
import gzip
import json
import os
import struct
import zlib

# ---------------------------------------------------------------------------------------------
# safetensors helpers

DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
              "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def st_raw(header_text, data=b"", n=None):
    """A safetensors file from a literal header text (bytes or str) and a data area."""
    if isinstance(header_text, str):
        header_text = header_text.encode("utf-8")
    if n is None:
        n = len(header_text)
    return struct.pack("<Q", n) + header_text + data


def st_build(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, bytes); laid out in order, contiguous from 0."""
    hdr = {}
    if metadata is not None:
        hdr["__metadata__"] = metadata
    off = 0
    data = b""
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    text = json.dumps(hdr, separators=(",", ":"))
    if pad:
        text += " " * ((8 - len(text) % 8) % 8)
    return st_raw(text, data)


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def ramp(count, scale=0.01, bias=0.0):
    """Deterministic small values."""
    return [bias + scale * (((i * 37) % 23) - 11) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# the tiny model the model / trainer targets use (must match fuzz_common.c: alae_fuzz_tiny_config)

TINY = {"latent_dim": 4, "mapping_layers": 1, "hidden": 8, "image_size": 4, "channels": 1,
        "net_size": 4, "data_range": 0, "d_layers": 1}


def c_g17(x):
    return "%.17g" % x


def arch_json(preset="mnist-fc-paper", g_slope=0.01, e_slope=0.2, e_out_slope=0.01, **over):
    c = dict(TINY)
    c.update(over)
    # exactly alaei_config_to_json's format (the trainer compares it as a string)
    return ('{"arch":1,"preset":"%s","latent_dim":%d,"mapping_layers":%d,"hidden":%d,'
            '"image_size":%d,"channels":%d,"net_size":%d,"data_range":%d,"d_layers":%d,'
            '"g_slope":%s,"e_slope":%s,"e_out_slope":%s}') % (
        preset, c["latent_dim"], c["mapping_layers"], c["hidden"], c["image_size"], c["channels"],
        c["net_size"], c["data_range"], c["d_layers"], c_g17(g_slope), c_g17(e_slope),
        c_g17(e_out_slope))


def model_params(cfg=None):
    """(name, shape) of every parameter, in lib/nn/mlp.c's declaration order."""
    c = dict(TINY)
    if cfg:
        c.update(cfg)
    L, H = c["latent_dim"], c["hidden"]
    P = c["channels"] * c["net_size"] * c["net_size"]
    out = []

    def lin(name, i, o):
        out.append((name + ".weight", [o, i]))
        out.append((name + ".bias", [o]))
    for i in range(c["mapping_layers"]):
        lin("F.dense.%d" % i, L, L)
    lin("G.fc.1", L, H)
    lin("G.fc.2", H, H)
    lin("G.fc.3", H, P)
    lin("E.fc.1", P, H)
    lin("E.fc.2", H, H)
    lin("E.fc.3", H, L)
    for i in range(c["d_layers"]):
        lin("D.dense.%d" % i, L, L)
    return out


def model_tensors(cfg=None, dtype="F32", skip=None, reshape=None):
    c = dict(TINY)
    if cfg:
        c.update(cfg)
    ts = []
    for k, (name, shape) in enumerate(model_params(cfg)):
        if name == skip:
            continue
        if reshape and name in reshape:
            shape = reshape[name]
        vals = ramp(numel(shape), 0.05)
        if dtype == "F32":
            raw = f32(vals)
        elif dtype == "F16":
            raw = struct.pack("<%de" % len(vals), *vals)
        elif dtype == "F64":
            raw = struct.pack("<%dd" % len(vals), *vals)
        elif dtype == "BF16":
            raw = b"".join(struct.pack("<f", v)[2:4] for v in vals)
        else:
            raise ValueError(dtype)
        ts.append((name, dtype, shape, raw))
    ts.append(("dlatent_avg", "F32", [c["latent_dim"]], f32(ramp(c["latent_dim"], 0.1))))
    return ts


def model_meta(kind="model", arch=None, fmt="1"):
    return {"alae.format": fmt, "alae.kind": kind, "alae.library": "0.1.0",
            "alae.arch": arch if arch is not None else arch_json()}


SETTINGS = ('{"r1_gamma":10,"latent_loss":0,"latent_weight":1,"ema_half_life":10000,'
            '"dlatent_beta":0.995,"fg_lr":0.002,"fg_beta1":0,"fg_beta2":0.98999999999999999,'
            '"fg_eps":1e-08,"ed_lr":0.002,"ed_beta1":0,"ed_beta2":0.98999999999999999,"ed_eps":1e-08}')


def trainer_file(settings=SETTINGS, adam_t=None, state=(3, 96, 0), drop=None, arch=None,
                 kind="trainer", extra_meta=None):
    params = model_params()
    ts = []
    for prefix in ("param/", "ema/", "adam.m/", "adam.v/"):
        for name, shape in params:
            n = prefix + name
            if n == drop:
                continue
            scale = 0.001 if prefix == "adam.v/" else 0.05
            vals = [abs(v) if prefix == "adam.v/" else v for v in ramp(numel(shape), scale)]
            ts.append((n, "F32", shape, f32(vals)))
    if adam_t is None:
        adam_t = [3] * len(params)
    if drop != "adam.t":
        ts.append(("adam.t", "I64", [len(adam_t)], struct.pack("<%dq" % len(adam_t), *adam_t)))
    if drop != "state":
        ts.append(("state", "U64", [len(state)], struct.pack("<%dQ" % len(state), *state)))
    ts.append(("dlatent_avg", "F32", [TINY["latent_dim"]], f32(ramp(TINY["latent_dim"], 0.1))))
    # the writer lays out 8-byte elements first; any order is valid for the reader
    meta = model_meta(kind=kind, arch=arch)
    if settings is not None:
        meta["alae.trainer"] = settings
    if extra_meta:
        meta.update(extra_meta)
    return st_build(ts, meta)


# ---------------------------------------------------------------------------------------------
# corpus per target

def corpus_safetensors():
    c = {}
    two = [("a", "F32", [2, 3], f32(ramp(6))), ("b", "I64", [2], struct.pack("<2q", 1, -2))]
    valid = st_build(two, {"k": "v", "alae.format": "1"})
    c["ok_two_tensors"] = valid
    c["ok_empty_header"] = st_raw("{}")
    c["ok_padded_empty"] = st_raw("{}      ")
    c["ok_metadata_only"] = st_raw('{"__metadata__":{"a":"b","c":"\\u00e9\\ud83d\\ude00"}}')
    c["ok_scalar"] = st_build([("s", "F64", [], struct.pack("<d", 3.5))])
    c["ok_zero_sized"] = st_build([("z", "F32", [0, 5], b""), ("y", "U8", [3], b"\x01\x02\x03")])
    c["ok_all_dtypes"] = st_build([("t_" + d, d, [2], b"\x01" * (2 * s)) for d, s in DTYPE_SIZE.items()])
    c["ok_f16_bf16_conv"] = st_build([("h", "F16", [3], struct.pack("<3e", 1.0, -2.0, 6.1e-5)),
                                      ("b", "BF16", [2], b"\x80\x3f\x00\xc0"),
                                      ("d", "F64", [2], struct.pack("<2d", 1e300, -1e-300))])
    c["ok_eight_dims"] = st_build([("e", "U8", [1] * 8, b"\x07")])
    c["ok_max_name"] = st_build([("n" * 256, "U8", [1], b"\x00")])
    c["ok_offsets_out_of_order"] = st_raw(
        '{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}',
        b"abcd")
    # truncations of a valid file
    for cut in (0, 4, 7, 8, 9, 40, len(valid) - 1):
        c["trunc_%d" % cut] = valid[:cut]
    # header length N
    c["n_2pow64_minus1"] = struct.pack("<Q", 2**64 - 1) + b"{}"
    c["n_2pow63"] = struct.pack("<Q", 2**63) + b"{}"
    c["n_past_eof"] = struct.pack("<Q", 100) + b"{}"
    c["n_100mb_plus_1"] = struct.pack("<Q", 100 * 1000 * 1000 + 1) + b"{}"
    c["n_zero"] = struct.pack("<Q", 0)
    c["n_zero_with_data"] = struct.pack("<Q", 0) + b"{}"
    # offsets
    c["offsets_past_end"] = st_raw('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', b"ab")
    c["offsets_huge"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]}}', b"a")
    c["offsets_overlap"] = st_raw(
        '{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"U8","shape":[3],"data_offsets":[1,4]}}',
        b"abcd")
    c["offsets_same_range"] = st_raw(
        '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}',
        b"ab")
    c["offsets_gap"] = st_raw(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}',
        b"abc")
    c["offsets_not_from_zero"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"ab")
    c["offsets_reversed"] = st_raw('{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,0]}}', b"ab")
    c["offsets_uncovered_tail"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"ab")
    c["offsets_three_elems"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}', b"a")
    c["offsets_wrong_span"] = st_raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"abcd")
    c["offsets_float"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1.0]}}', b"a")
    c["offsets_negative"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}', b"a")
    c["offsets_string"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":["0","1"]}}', b"a")
    c["zero_then_overlap"] = st_raw(
        '{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,1]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}',
        b"ab")
    # dtypes
    c["dtype_unknown"] = st_raw('{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', b"x" * 16)
    c["dtype_lowercase"] = st_raw('{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', b"x" * 4)
    c["dtype_empty"] = st_raw('{"a":{"dtype":"","shape":[1],"data_offsets":[0,1]}}', b"x")
    c["dtype_nul"] = st_raw('{"a":{"dtype":"F32\\u0000","shape":[1],"data_offsets":[0,4]}}', b"x" * 4)
    c["dtype_number"] = st_raw('{"a":{"dtype":7,"shape":[1],"data_offsets":[0,1]}}', b"x")
    c["dtype_missing"] = st_raw('{"a":{"shape":[1],"data_offsets":[0,1]}}', b"x")
    # names and keys
    c["dup_tensor_names"] = st_raw(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
        b"ab")
    c["dup_names_escaped"] = st_raw(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
        b"ab")
    c["dup_metadata_keys"] = st_raw('{"__metadata__":{"k":"1","k":"2"}}')
    c["dup_metadata_object"] = st_raw('{"__metadata__":{},"__metadata__":{}}')
    c["dup_entry_key"] = st_raw('{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    c["name_empty"] = st_raw('{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    c["name_257_bytes"] = st_build([("n" * 257, "U8", [1], b"\x00")])
    c["name_nul"] = st_raw('{"a\\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    c["entry_extra_key"] = st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', b"a")
    c["entry_not_object"] = st_raw('{"a":[1,2]}')
    c["metadata_not_object"] = st_raw('{"__metadata__":"x"}')
    c["metadata_number_value"] = st_raw('{"__metadata__":{"k":1}}')
    c["metadata_nested"] = st_raw('{"__metadata__":{"k":{"x":"y"}}}')
    c["metadata_nul_value"] = st_raw('{"__metadata__":{"k":"a\\u0000b"}}')
    c["metadata_nul_key"] = st_raw('{"__metadata__":{"k\\u0000":"v"}}')
    # shapes
    c["shape_product_overflow"] = st_raw(
        '{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}')
    c["shape_product_overflow_bytes"] = st_raw(
        '{"a":{"dtype":"F64","shape":[2305843009213693952,1],"data_offsets":[0,0]}}')
    c["ok_shape_overflow_then_zero"] = st_raw(
        '{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,0],"data_offsets":[0,0]}}')
    c["shape_int64_max"] = st_raw('{"a":{"dtype":"U8","shape":[9223372036854775807],"data_offsets":[0,0]}}')
    c["shape_2pow64"] = st_raw('{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}')
    c["shape_negative"] = st_raw('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}')
    c["shape_minus_zero"] = st_raw('{"a":{"dtype":"U8","shape":[-0],"data_offsets":[0,0]}}')
    c["shape_float"] = st_raw('{"a":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}', b"ab")
    c["shape_exponent"] = st_raw('{"a":{"dtype":"U8","shape":[1e1],"data_offsets":[0,10]}}', b"a" * 10)
    c["shape_ndim_9"] = st_raw('{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}', b"a")
    c["shape_not_array"] = st_raw('{"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}', b"a")
    c["shape_null"] = st_raw('{"a":{"dtype":"U8","shape":[null],"data_offsets":[0,1]}}', b"a")
    # JSON structure
    c["deep_nesting_4"] = st_raw('{"a":{"b":{"c":{"d":1}}}}')
    c["deep_nesting_200"] = st_raw("{" + '"a":[' * 100 + "]" * 100 + "}")
    c["header_array"] = st_raw("[]")
    c["header_leading_space"] = st_raw(" {}")
    c["header_bom"] = st_raw(b"\xef\xbb\xbf{}")
    c["header_trailing_garbage"] = st_raw("{}x")
    c["header_two_objects"] = st_raw("{}{}")
    c["header_trailing_nul"] = st_raw(b"{}\x00")
    c["utf8_overlong"] = st_raw(b'{"\xc0\xaf":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    c["utf8_surrogate"] = st_raw(b'{"\xed\xa0\x80":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    c["utf8_above_10ffff"] = st_raw(b'{"\xf4\x90\x80\x80":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    c["utf8_ff"] = st_raw(b'{"\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    c["utf8_truncated_seq"] = st_raw(b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}\xe2\x82', b"a")
    c["utf8_in_padding"] = st_raw(b"{}\xc3")
    c["lone_surrogate_escape"] = st_raw('{"__metadata__":{"k":"\\ud800"}}')
    c["ok_forty_empty_tensors"] = st_raw(
        "{" + ",".join('"t%d":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}' % i for i in range(40)) + "}")
    return c


def corpus_json():
    c = {}
    ok = {
        "ok_object": '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
        "ok_numbers": '[0,-0,1.5,-2e10,1E+2,9223372036854775807,-9223372036854775808,'
                      '9223372036854775808,18446744073709551616,1e999,-1e-999,0.0e0]',
        "ok_strings": '["\\"\\\\\\/\\b\\f\\n\\r\\t","\\u0000","\\u00e9","\\ud83d\\ude00","\u00e9\U0001f600"]',
        "ok_scalar_string": '"x"',
        "ok_scalar_number": "  42  ",
        "ok_empty_containers": '{"a":{},"b":[]}',
        "ok_whitespace": ' \t\r\n{ "a" : [ 1 , 2 ] } \n',
        "ok_keys_escaped": '{"a":1,"\\u0062":2,"c\\u0000":3,"c":4}',
        "ok_safetensors_like": '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}',
    }
    c.update({k: v.encode("utf-8") for k, v in ok.items()})
    bad = {
        "empty": b"",
        "only_space": b"   ",
        "trailing_comma_array": b"[1,2,]",
        "trailing_comma_object": b'{"a":1,}',
        "leading_zero": b"[01]",
        "bare_dot": b"[1.]",
        "dot_first": b"[.5]",
        "plus_sign": b"[+1]",
        "hex": b"[0x10]",
        "nan": b"[NaN]",
        "infinity": b"[Infinity]",
        "exp_no_digits": b"[1e]",
        "minus_alone": b"[-]",
        "truncated_true": b"[tru",
        "truncated_string": b'["abc',
        "truncated_escape": b'["\\',
        "truncated_u_escape": b'["\\u12',
        "bad_escape": b'["\\x41"]',
        "lone_high_surrogate": b'["\\ud800"]',
        "lone_low_surrogate": b'["\\udc00"]',
        "high_then_high": b'["\\ud800\\ud800"]',
        "control_char": b'["a\x01b"]',
        "raw_newline_in_string": b'["a\nb"]',
        "dup_keys": b'{"a":1,"a":2}',
        "dup_keys_escaped": b'{"a":1,"\\u0061":2}',
        "dup_keys_nested": b'{"x":{"k":1,"k":1}}',
        "single_quotes": b"{'a':1}",
        "unquoted_key": b"{a:1}",
        "missing_colon": b'{"a" 1}',
        "missing_value": b'{"a":}',
        "two_values": b"1 2",
        "nul_after": b"{}\x00",
        "bom": b"\xef\xbb\xbf{}",
        "utf8_overlong_2": b'["\xc0\x80"]',
        "utf8_overlong_3": b'["\xe0\x80\xaf"]',
        "utf8_overlong_4": b'["\xf0\x80\x80\xaf"]',
        "utf8_surrogate": b'["\xed\xa0\x80"]',
        "utf8_above_max": b'["\xf4\x90\x80\x80"]',
        "utf8_f5": b'["\xf5\x80\x80\x80"]',
        "utf8_continuation_alone": b'["\x80"]',
        "utf8_truncated": b'["\xe2\x82"]',
        "utf8_outside_string": b"[\xc3\xa9]",
        "deep_array_65": b"[" * 65 + b"]" * 65,
        "deep_array_1000": b"[" * 1000 + b"]" * 1000,
        "deep_object_100": b'{"a":' * 100 + b"1" + b"}" * 100,
        "unclosed_deep": b"[" * 5000,
        "ok_many_values": b"[" + b",".join(b"0" for _ in range(3000)) + b"]",
        "ok_huge_number": b"[" + b"9" * 400 + b"]",
        "ok_huge_exponent": b"[1e" + b"9" * 400 + b"]",
    }
    c.update(bad)
    return c


def corpus_config():
    c = {}
    base = arch_json()
    c["ok_tiny"] = base.encode()
    c["ok_paper"] = arch_json(latent_dim=50, mapping_layers=6, hidden=1024, image_size=28, net_size=28,
                              d_layers=3).encode()
    c["ok_mnist_fc"] = arch_json(preset="mnist-fc", g_slope=0.2, e_out_slope=0.2, image_size=32, net_size=28,
                                 latent_dim=50, mapping_layers=6, hidden=1024, d_layers=3, data_range=1).encode()
    # within every bound, so a valid configuration (16 GiB of parameters: model_load must check
    # the file holds them before allocating them)
    c["ok_hidden_65536_within_bounds"] = arch_json(hidden=65536, latent_dim=4096, net_size=256, image_size=256).encode()
    c["hidden_65537"] = arch_json(hidden=65537).encode()
    c["latent_4097"] = arch_json(latent_dim=4097).encode()
    c["pixels_too_many"] = arch_json(channels=4, net_size=4096, image_size=4096).encode()
    c["hidden_zero"] = arch_json(hidden=0).encode()
    c["hidden_negative"] = arch_json(hidden=-8).encode()
    c["hidden_fraction"] = base.replace('"hidden":8', '"hidden":8.5').encode()
    c["hidden_nan"] = base.replace('"hidden":8', '"hidden":nan').encode()
    c["hidden_inf"] = base.replace('"hidden":8', '"hidden":inf').encode()
    # finding L1 (docs/reliability.md): the arch metadata was read with strstr + strtod and
    # accepted hex numbers and repeated keys; it is strict JSON now
    c["hidden_hex"] = base.replace('"hidden":8', '"hidden":0x8').encode()
    c["hidden_1e999"] = base.replace('"hidden":8', '"hidden":1e999').encode()
    c["hidden_2pow31"] = base.replace('"hidden":8', '"hidden":2147483648').encode()
    c["slope_negative"] = base.replace('"g_slope":0.01', '"g_slope":-0.5').encode()
    c["slope_nan"] = base.replace('"g_slope":0.01', '"g_slope":nan').encode()
    c["missing_hidden"] = base.replace('"hidden":8,', "").encode()
    c["missing_preset"] = base.replace('"preset":"mnist-fc-paper",', "").encode()
    c["preset_unknown"] = base.replace("mnist-fc-paper", "stylegan").encode()
    c["preset_unterminated"] = b'{"preset":"mnist-fc-paper'
    c["preset_long"] = base.replace("mnist-fc-paper", "m" * 300).encode()
    c["arch_style"] = base.replace('"arch":1', '"arch":2').encode()
    style = ('{"arch":2,"preset":"mnist","latent_dim":32,"mapping_layers":4,"image_size":32,"channels":1,'
             '"data_range":1,"d_layers":3,"start_channels":64,"max_channels":256}')
    c["ok_style_mnist"] = style.encode()
    c["ok_style_tiny"] = style.replace('"image_size":32', '"image_size":4').encode()
    c["style_size_not_pow2"] = style.replace('"image_size":32', '"image_size":24').encode()
    c["style_channels_huge"] = style.replace('"start_channels":64', '"start_channels":65536').replace(
        '"max_channels":256', '"max_channels":65536').replace('"image_size":32', '"image_size":4096').encode()
    c["style_missing_max"] = style.replace(',"max_channels":256', "").encode()
    c["style_arch_mismatch"] = style.replace('"arch":2', '"arch":1').encode()
    c["empty"] = b""
    c["not_json"] = b"hidden=8"
    c["keys_twice"] = (base[:-1] + ',"hidden":65536}').encode()
    return c


def corpus_model_load():
    c = {}
    c["ok_tiny_f32"] = st_build(model_tensors(), model_meta())
    c["ok_tiny_f16"] = st_build(model_tensors(dtype="F16"), model_meta())
    c["ok_tiny_bf16"] = st_build(model_tensors(dtype="BF16"), model_meta())
    c["ok_tiny_f64"] = st_build(model_tensors(dtype="F64"), model_meta())
    resize = {"image_size": 6, "net_size": 4}
    c["ok_tiny_resize"] = st_build(model_tensors(cfg=resize), model_meta(arch=arch_json(**resize)))
    c["ok_extra_tensor"] = st_build(model_tensors() + [("extra", "U8", [1], b"\x00")], model_meta())
    # resource bombs: the configuration claims a huge model, the file holds the tiny one
    c["bomb_hidden_65536"] = st_build(model_tensors(), model_meta(arch=arch_json(hidden=65536)))
    c["bomb_hidden_16384_latent_4096"] = st_build(
        model_tensors(), model_meta(arch=arch_json(hidden=16384, latent_dim=4096, mapping_layers=32, d_layers=32)))
    c["bomb_net_2048"] = st_build(model_tensors(), model_meta(arch=arch_json(hidden=1024, net_size=2048,
                                                                              image_size=2048)))
    c["bomb_resize_4096"] = st_build(model_tensors(), model_meta(arch=arch_json(net_size=2, image_size=4096)))
    # shape and presence checks
    c["missing_tensor"] = st_build(model_tensors(skip="G.fc.2.weight"), model_meta())
    c["missing_dlatent_avg"] = st_build([t for t in model_tensors() if t[0] != "dlatent_avg"], model_meta())
    c["wrong_shape_transposed"] = st_build(model_tensors(reshape={"E.fc.1.weight": [16, 8]}), model_meta())
    c["wrong_shape_flat"] = st_build(model_tensors(reshape={"G.fc.2.weight": [64]}), model_meta())
    c["wrong_shape_scalar_bias"] = st_build(model_tensors(reshape={"G.fc.2.bias": []}), model_meta())
    c["wrong_dtype_i32"] = st_build([(n, "I32" if n == "G.fc.1.bias" else d, s, r) for n, d, s, r in model_tensors()],
                                    model_meta())
    c["no_metadata"] = st_build(model_tensors())
    c["format_2"] = st_build(model_tensors(), model_meta(fmt="2"))
    c["kind_trainer"] = st_build(model_tensors(), model_meta(kind="trainer"))
    c["arch_garbage"] = st_build(model_tensors(), model_meta(arch="garbage"))
    c["arch_empty"] = st_build(model_tensors(), model_meta(arch=""))
    c["arch_hidden_nan"] = st_build(model_tensors(), model_meta(arch=arch_json().replace('"hidden":8', '"hidden":nan')))
    c["arch_other_config"] = st_build(model_tensors(), model_meta(arch=arch_json(hidden=9)))
    valid = c["ok_tiny_f32"]
    c["trunc_header"] = valid[:100]
    c["trunc_data"] = valid[:-3]
    return c


def corpus_trainer_load():
    c = {}
    c["ok_state"] = trainer_file()
    c["ok_no_settings"] = trainer_file(settings=None)
    c["ok_settings_l1"] = trainer_file(settings=SETTINGS.replace('"latent_loss":0', '"latent_loss":1'))
    nparams = len(model_params())
    # values the trainer setters refuse (finding L2, docs/reliability.md): the loader refuses them too
    c["settings_out_of_range"] = trainer_file(
        settings='{"r1_gamma":-5,"latent_weight":-1,"ema_half_life":-3,"dlatent_beta":7,"fg_lr":-1,'
                 '"fg_beta1":2,"fg_beta2":-4,"fg_eps":0,"ed_lr":1e308,"ed_beta1":1,"ed_beta2":1,"ed_eps":-1}')
    # bug B2 (docs/reliability.md): a negative Adam step count used to load and turn the
    # parameters into NaN at the next step (INT64_MAX: regressions/trainer_load/adam_t_int64_max)
    c["adam_t_negative"] = trainer_file(adam_t=[-(2**63)] + [3] * (nparams - 1))
    # issue #20: step, random-stream offset and seed of 2^64 - 1 used to load (a step near 2^63
    # crashed the CLI); now refused (also regressions/trainer_load/state_*)
    c["state_huge"] = trainer_file(state=(2**64 - 1, 2**64 - 1, 2**64 - 1))
    c["adam_t_short"] = trainer_file(adam_t=[3] * (nparams - 1))
    c["adam_t_missing"] = trainer_file(drop="adam.t")
    c["state_missing"] = trainer_file(drop="state")
    c["state_two"] = trainer_file(state=(1, 2))
    c["missing_ema"] = trainer_file(drop="ema/G.fc.3.weight")
    c["missing_adam_v"] = trainer_file(drop="adam.v/D.dense.0.bias")
    c["kind_model"] = trainer_file(kind="model")
    c["other_config"] = trainer_file(arch=arch_json(hidden=16))
    c["other_config_bomb"] = trainer_file(arch=arch_json(hidden=65536))
    # finding L2: unparseable settings used to fall back to the current values; now refused
    c["settings_garbage"] = trainer_file(settings='{"fg_lr":"x","ed_lr":')
    c["model_file"] = st_build(model_tensors(), model_meta())
    valid = c["ok_state"]
    c["trunc_half"] = valid[: len(valid) // 2]
    return c


def idx_images(n, rows, cols, data=None):
    if data is None:
        data = bytes((i * 7) & 0xFF for i in range(n * rows * cols))
    return struct.pack(">IIII", 0x803, n, rows, cols) + data


def corpus_idx():
    c = {}
    c["ok_images_3x4x5"] = idx_images(3, 4, 5)
    c["ok_images_1x1x1"] = idx_images(1, 1, 1)
    c["ok_images_gzip"] = gzip.compress(idx_images(2, 28, 28), mtime=0)
    c["ok_zero_images"] = idx_images(0, 28, 28)
    c["ok_labels"] = struct.pack(">II", 0x801, 4) + b"\x00\x01\x02\x09"
    c["ok_labels_gzip"] = gzip.compress(struct.pack(">II", 0x801, 2) + b"\x03\x04", mtime=0)
    c["images_100000x100000"] = struct.pack(">IIII", 0x803, 1, 100000, 100000) + b"\x00" * 16
    c["images_zero_rows"] = struct.pack(">IIII", 0x803, 1, 0, 5)
    c["images_zero_cols"] = struct.pack(">IIII", 0x803, 1, 5, 0)
    c["images_4097"] = struct.pack(">IIII", 0x803, 1, 4097, 1) + b"\x00" * 4097
    c["count_2pow32_minus1"] = struct.pack(">IIII", 0x803, 2**32 - 1, 28, 28) + b"\x00" * 64
    c["count_1e8_max_side"] = struct.pack(">IIII", 0x803, 100000000, 4096, 4096) + b"\x00" * 64
    c["count_1e8_plus_1"] = struct.pack(">II", 0x801, 100000001) + b"\x00"
    c["truncated_data"] = idx_images(3, 4, 5)[:-1]
    c["trailing_data"] = idx_images(3, 4, 5) + b"\x00"
    c["truncated_header"] = struct.pack(">III", 0x803, 1, 4)
    c["magic_only"] = struct.pack(">I", 0x803)
    c["empty"] = b""
    c["one_byte"] = b"\x1f"
    c["gzip_magic_only"] = b"\x1f\x8b"
    c["magic_float"] = struct.pack(">IIII", 0x00000D03, 1, 1, 1) + b"\x00" * 4
    c["magic_4dims"] = struct.pack(">IIIII", 0x804, 1, 1, 1, 1) + b"\x00"
    c["magic_bad"] = b"\x12\x34\x56\x78" + b"\x00" * 12
    full = gzip.compress(idx_images(2, 28, 28), mtime=0)
    c["gzip_truncated"] = full[: len(full) // 2]
    c["gzip_no_trailer"] = full[:-8]
    c["gzip_bad_crc"] = full[:-8] + b"\x00\x00\x00\x00" + full[-4:]
    c["gzip_corrupt"] = full[:12] + bytes(b ^ 0x5A for b in full[12:40]) + full[40:]
    # finding L3, fixed (issue #20): garbage after the last gzip member was ignored (zlib's
    # gzread); a second member is valid gzip and stays accepted
    c["gzip_trailing_garbage"] = full + b"garbage"
    c["gzip_trailing_zeros"] = full + bytes(8)
    raw = idx_images(2, 28, 28)
    c["ok_images_gzip_two_members"] = gzip.compress(raw[:100], mtime=0) + gzip.compress(raw[100:], mtime=0)
    c["gzip_two_members"] = full + gzip.compress(b"\x00" * 10, mtime=0)
    c["gzip_claims_1e8_images"] = gzip.compress(struct.pack(">IIII", 0x803, 100000000, 28, 28) + b"\x00" * 100,
                                                mtime=0)
    c["ok_gzip_high_ratio"] = gzip.compress(struct.pack(">IIII", 0x803, 256, 28, 28) + b"\x00" * (256 * 28 * 28),
                                         mtime=0, compresslevel=9)
    c["gzip_of_gzip"] = gzip.compress(full, mtime=0)
    c["zlib_not_gzip"] = zlib.compress(idx_images(1, 2, 2))
    return c


def npy(header_dict_text, data=b"", version=(1, 0), hlen=None):
    h = header_dict_text.encode("latin-1")
    pre = b"\x93NUMPY" + bytes(version)
    if version[0] == 1:
        total = len(pre) + 2 + len(h) + 1
        pad = (64 - total % 64) % 64
        h = h + b" " * pad + b"\n"
        n = len(h) if hlen is None else hlen
        return pre + struct.pack("<H", n) + h + data
    total = len(pre) + 4 + len(h) + 1
    pad = (64 - total % 64) % 64
    h = h + b" " * pad + b"\n"
    n = len(h) if hlen is None else hlen
    return pre + struct.pack("<I", n) + h + data


def corpus_npy():
    c = {}
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }"
    c["ok_2x3"] = npy(d % "2, 3", f32(ramp(6)))
    c["ok_scalar"] = npy(d % "", f32([1.5]))
    c["ok_1d"] = npy(d % "4,", f32(ramp(4)))
    c["ok_zero_size"] = npy(d % "0, 7")
    c["ok_8_dims"] = npy(d % "1, 1, 1, 1, 1, 1, 1, 2", f32([1, 2]))
    c["ok_big_endian"] = npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", struct.pack(">2f", 1, 2))
    c["ok_v2"] = npy(d % "2,", f32([1, 2]), version=(2, 0))
    c["ok_v3"] = npy(d % "2,", f32([1, 2]), version=(3, 0))
    c["ok_key_order"] = npy("{'shape': (1,), 'fortran_order': False, 'descr': '<f4'}", f32([3]))
    c["dims_9"] = npy(d % "1, 1, 1, 1, 1, 1, 1, 1, 1", f32([1]))
    c["shape_overflow"] = npy(d % "4294967296, 4294967296, 16", b"")
    c["ok_shape_overflow_then_zero"] = npy(d % "576460752303423487, 576460752303423487, 0", b"")
    c["shape_huge_dim"] = npy(d % "99999999999999999999999", b"")
    c["shape_negative"] = npy(d % "-1,", b"")
    c["shape_claims_1e9"] = npy(d % "1000000000,", f32([0]))
    c["truncated_data"] = npy(d % "2, 3", f32(ramp(6))[:-1])
    c["trailing_data"] = npy(d % "2,", f32([1, 2, 3]))
    c["fortran_true"] = npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f32([1, 2]))
    c["descr_f8"] = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", struct.pack("<d", 1))
    c["descr_object"] = npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\x00" * 8)
    c["dup_key"] = npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32([1]))
    c["missing_shape"] = npy("{'descr': '<f4', 'fortran_order': False, }", f32([1]))
    c["unknown_key"] = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }", f32([1]))
    c["hlen_zero"] = b"\x93NUMPY\x01\x00\x00\x00"
    c["hlen_past_eof"] = npy(d % "1,", f32([1]), hlen=60000)
    c["hlen_v2_4gb"] = npy(d % "1,", f32([1]), version=(2, 0), hlen=2**32 - 1)
    c["header_no_newline"] = b"\x93NUMPY\x01\x00\x10\x00" + b"{'descr': '<f4'}"
    c["header_non_ascii"] = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), '\xe9': 1}", f32([1]))
    c["version_4"] = npy(d % "1,", f32([1]), version=(4, 0))
    c["bad_magic"] = b"\x93NUMPZ\x01\x00\x10\x00" + b" " * 15 + b"\n"
    c["preamble_only"] = b"\x93NUMPY\x01\x00"
    c["empty"] = b""
    c["unterminated_string"] = npy("{'descr: '<f4', 'fortran_order': False, 'shape': (1,), }", f32([1]))
    c["unterminated_tuple"] = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, }", f32([1]))
    return c


# ---------------------------------------------------------------------------------------------
# images (PNG, BMP, baseline JPEG), written by hand so the corpus needs no imaging library

def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(w, h, color=0, depth=8, rows=None, interlace=0, extra=b"", ihdr_w=None, ihdr_h=None, idat=None,
        plte=None):
    """color: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. rows: raw scanlines (filter byte first)."""
    n = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color, 1)
    if rows is None:
        rowbytes = (w * n * depth + 7) // 8
        rows = b"".join(b"\x00" + bytes(((x * 13 + y * 7) & 0xFF) for x in range(rowbytes)) for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w if ihdr_w is None else ihdr_w, h if ihdr_h is None else ihdr_h, depth,
                       color, 0, 0, interlace)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if color == 3:
        out += png_chunk(b"PLTE", plte if plte is not None else bytes(range(48)))
    out += extra
    out += png_chunk(b"IDAT", zlib.compress(rows, 9) if idat is None else idat)
    return out + png_chunk(b"IEND", b"")


def bmp(w, h, bpp=24, pixels=None, compression=0, hdr_w=None, hdr_h=None, palette=None):
    rowbytes = ((w * bpp + 31) // 32) * 4
    if pixels is None:
        pixels = bytes(((i * 29) & 0xFF) for i in range(rowbytes * abs(h)))
    if palette is None and bpp <= 8:
        palette = b"".join(bytes((i, i, i, 0)) for i in range(1 << bpp))
    palette = palette or b""
    off = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w if hdr_w is None else hdr_w, h if hdr_h is None else hdr_h, 1, bpp,
                       compression, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off) + info + palette + pixels


# baseline JPEG: standard luminance/chrominance tables of ITU T.81 Annex K
_ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
           14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
           53, 60, 61, 54, 47, 55, 62, 63]
_DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
_DC_VALS = list(range(12))
_AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]
_AC_VALS = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14,
    0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09,
    0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A,
    0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65,
    0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
    0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9,
    0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA,
    0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA,
    0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA]


def _huff_codes(bits, vals):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def jpeg(w, h, comps=1, sof_w=None, sof_h=None, cut_scan=None, no_eoi=False):
    """Baseline JPEG, 4:4:4, quantisation 1, smooth content; every component uses table 0."""
    import math
    dc, ac = _huff_codes(_DC_BITS, _DC_VALS), _huff_codes(_AC_BITS, _AC_VALS)
    out = bytearray()
    acc, nacc = 0, 0

    def put(code, length):
        nonlocal acc, nacc
        acc = (acc << length) | code
        nacc += length
        while nacc >= 8:
            b = (acc >> (nacc - 8)) & 0xFF
            out.append(b)
            if b == 0xFF:
                out.append(0)
            nacc -= 8

    def magnitude(v):
        n = 0 if v == 0 else int(abs(v)).bit_length()
        return n, (v if v >= 0 else v + (1 << n) - 1)

    cosines = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
    pred = [0] * comps
    for by in range((h + 7) // 8):
        for bx in range((w + 7) // 8):
            for c in range(comps):
                px = [[((bx * 8 + x) * 9 + (by * 8 + y) * 5 + c * 40) % 256 - 128 for x in range(8)] for y in range(8)]
                coef = []
                for v in range(8):
                    for u in range(8):
                        cu = math.sqrt(0.5) if u == 0 else 1.0
                        cv = math.sqrt(0.5) if v == 0 else 1.0
                        acc_ = sum(px[y][x] * cosines[u][x] * cosines[v][y] for y in range(8) for x in range(8))
                        coef.append(int(round(0.25 * cu * cv * acc_)))
                zz = [coef[_ZIGZAG[i]] for i in range(64)]
                n, bitsv = magnitude(zz[0] - pred[c])
                pred[c] = zz[0]
                put(*dc[n])
                if n:
                    put(bitsv, n)
                run = 0
                for i in range(1, 64):
                    if zz[i] == 0:
                        run += 1
                        continue
                    while run > 15:
                        put(*ac[0xF0])
                        run -= 16
                    n, bitsv = magnitude(zz[i])
                    put(*ac[(run << 4) | n])
                    put(bitsv, n)
                    run = 0
                if run:
                    put(*ac[0x00])
    if nacc:
        put((1 << (8 - nacc)) - 1, 8 - nacc)
    scan = bytes(out)
    if cut_scan is not None:
        scan = scan[:cut_scan]

    def seg(marker, body):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body

    j = b"\xff\xd8"
    j += seg(0xDB, b"\x00" + b"\x01" * 64)
    sof = struct.pack(">BHHB", 8, h if sof_h is None else sof_h, w if sof_w is None else sof_w, comps)
    for c in range(comps):
        sof += bytes([c + 1, 0x11, 0])
    j += seg(0xC0, sof)
    j += seg(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS))
    j += seg(0xC4, b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS))
    sos = bytes([comps]) + b"".join(bytes([c + 1, 0x00]) for c in range(comps)) + b"\x00\x3f\x00"
    j += seg(0xDA, sos) + scan
    if not no_eoi:
        j += b"\xff\xd9"
    return j


def corpus_image():
    c = {}
    c["ok_png_grey_8x8"] = png(8, 8)
    c["ok_png_rgb_5x3"] = png(5, 3, color=2)
    c["ok_png_rgba_4x4"] = png(4, 4, color=6)
    c["ok_png_grey_alpha_3x7"] = png(3, 7, color=4)
    c["ok_png_palette_4x4"] = png(4, 4, color=3, rows=b"".join(b"\x00" + bytes((x + y) % 16 for x in range(4))
                                                                 for y in range(4)))
    c["ok_png_16bit_2x2"] = png(2, 2, depth=16)
    c["ok_png_1bit_9x2"] = png(9, 2, depth=1)
    c["ok_png_1x1"] = png(1, 1)
    c["ok_png_filters"] = png(4, 4, rows=b"".join(bytes([f]) + bytes(range(4)) for f in (1, 2, 3, 4)))
    # Adam7: an interlaced 1x1 image has one pass with one pixel
    c["ok_png_interlaced_1x1"] = png(1, 1, interlace=1, rows=b"\x00\x80")
    c["ok_bmp_24_4x3"] = bmp(4, 3)
    c["ok_bmp_32_2x2"] = bmp(2, 2, bpp=32)
    c["ok_bmp_8_palette_5x5"] = bmp(5, 5, bpp=8)
    c["ok_bmp_top_down"] = bmp(3, -3)
    c["ok_jpeg_grey_8x8"] = jpeg(8, 8)
    c["ok_jpeg_rgb_16x8"] = jpeg(16, 8, comps=3)
    c["ok_jpeg_grey_13x5"] = jpeg(13, 5)
    # size bombs: small files whose headers claim huge images
    c["png_100000x100000"] = png(2, 2, ihdr_w=100000, ihdr_h=100000)
    c["png_16384x16384_tiny_idat"] = png(2, 2, color=6, ihdr_w=16384, ihdr_h=16384)
    c["png_16384x1_tiny_idat"] = png(2, 2, ihdr_w=16384, ihdr_h=1)
    c["png_zero_width"] = png(2, 2, ihdr_w=0)
    c["png_zero_height"] = png(2, 2, ihdr_h=0)
    c["bmp_100000x100000"] = bmp(2, 2, hdr_w=100000, hdr_h=100000)
    c["bmp_16384x16384_no_pixels"] = bmp(2, 2, hdr_w=16384, hdr_h=16384)
    c["bmp_16384x16384_top_down"] = bmp(2, 2, hdr_w=16384, hdr_h=-16384)
    c["bmp_4096x4096_no_pixels"] = bmp(2, 2, hdr_w=4096, hdr_h=4096)
    c["bmp_zero_width"] = bmp(2, 2, hdr_w=0)
    c["bmp_int_min_height"] = bmp(2, 2, hdr_h=-(2**31))
    c["jpeg_65500x65500"] = jpeg(8, 8, sof_w=65500, sof_h=65500)
    c["jpeg_16384x16384_one_block"] = jpeg(8, 8, sof_w=16384, sof_h=16384)
    c["jpeg_16384x16384_rgb"] = jpeg(8, 8, comps=3, sof_w=16384, sof_h=16384)
    c["jpeg_zero_width"] = jpeg(8, 8, sof_w=0)
    # truncations and corruption
    good = c["ok_png_rgb_5x3"]
    for cut in (8, 20, 33):
        c["png_trunc_%d" % cut] = good[:cut]
    c["png_no_iend"] = good[:-12]
    # stb_image checks no CRC: accepted until issue #20 (finding L4), refused now
    c["png_iend_crc_cut"] = good[:-1]
    c["png_idat_bad_crc"] = good[:-16] + bytes([good[-16] ^ 1]) + good[-15:]
    c["png_no_idat"] = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)) + \
        png_chunk(b"IEND", b"")
    c["png_short_idat"] = png(8, 8, idat=zlib.compress(b"\x00" * 5))
    c["png_bad_zlib"] = png(4, 4, idat=b"\x78\x9c\xff\xff\xff")
    c["png_bad_filter"] = png(2, 2, rows=b"\x07\x00\x00\x09\x00\x00")
    c["png_bad_depth"] = png(2, 2, depth=3)
    c["png_bad_color"] = png(2, 2, color=5)
    c["png_palette_missing"] = png(2, 2, color=3, plte=b"")
    c["png_huge_chunk_length"] = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)) \
        + struct.pack(">I", 0x7FFFFFFF) + b"IDAT" + b"\x00" * 16
    c["bmp_truncated_pixels"] = bmp(4, 4)[:-10]
    c["bmp_rle8"] = bmp(4, 4, bpp=8, compression=1)
    c["ok_bmp_1bit"] = bmp(8, 2, bpp=1)
    c["bmp_bad_bpp"] = bmp(2, 2, bpp=7)
    c["bmp_header_only"] = bmp(2, 2)[:30]
    jg = c["ok_jpeg_rgb_16x8"]
    # lax (finding L4, docs/reliability.md): stb_image decodes a cut scan as if the rest were zeros
    c["ok_lax_jpeg_truncated_scan"] = jpeg(16, 8, comps=3, cut_scan=5)
    c["jpeg_no_eoi"] = jpeg(8, 8, no_eoi=True)
    c["jpeg_soi_only"] = b"\xff\xd8"
    c["jpeg_trunc_header"] = jg[:40]
    c["jpeg_garbage_after_soi"] = b"\xff\xd8" + b"\x00" * 32
    c["not_an_image"] = b"GIF89a" + b"\x00" * 20
    c["empty"] = b""
    c["one_byte"] = b"\x89"
    return c


def open_regressions():
    """Reproducers of open bugs that crash a target under the sanitizers: written to
    regressions/open/<target>/, which regression_driver does not replay (run them by hand with
    regression_driver --target <target> FILE). Move a file to regressions/<target>/ once fixed."""
    return {}  # none today; B2's INT64_MAX step counts are in regressions/trainer_load/ since the fix


TARGETS = {
    "safetensors": corpus_safetensors,
    "json": corpus_json,
    "config": corpus_config,
    "model_load": corpus_model_load,
    "trainer_load": corpus_trainer_load,
    "idx": corpus_idx,
    "npy": corpus_npy,
    "image": corpus_image,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "corpus"))
    args = ap.parse_args()
    total = 0
    for target, make in TARGETS.items():
        d = os.path.join(args.out, target)
        os.makedirs(d, exist_ok=True)
        for name, blob in sorted(make().items()):
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(blob)
            total += 1
    opendir = os.path.join(os.path.dirname(os.path.abspath(args.out)), "regressions", "open")
    for target, blobs in open_regressions().items():
        d = os.path.join(opendir, target)
        os.makedirs(d, exist_ok=True)
        for name, blob in sorted(blobs.items()):
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(blob)
    print("wrote %d seeds under %s, open-bug reproducers under %s" % (total, args.out, opendir))


if __name__ == "__main__":
    main()
