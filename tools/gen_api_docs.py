#!/usr/bin/env python3
"""Generates docs/api/reference.md, the C API reference, from the comments of include/alae/*.h.

    tools/gen_api_docs.py            # (re)writes docs/api/reference.md
    tools/gen_api_docs.py --check    # exits 1 if docs/api/reference.md is not up to date
    tools/gen_api_docs.py --lint     # lists functions whose comments lack ownership, thread or
                                     # error documentation (a report; always exits 0)

The headers are the source of truth: a comment block directly above a declaration documents it
and every declaration that follows without a blank line (a group, e.g. create + destroy);
a comment on the same line after a declaration is a note on that declaration. The parser
(parse_headers) is also used by tests/python/test_bindings.py to check that the Python package
binds every ALAE_API function. Needs only the Python standard library.
"""

import argparse
import difflib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER_DIR = os.path.join(ROOT, "include", "alae")
OUTPUT = os.path.join(ROOT, "docs", "api", "reference.md")

# The order of the reference: the umbrella first, then as alae.h includes them.
HEADER_ORDER = ["alae.h", "alae_export.h", "alae_version.h.in", "alae_status.h", "alae_device.h", "alae_tensor.h",
                "alae_model.h", "alae_optim.h", "alae_train.h", "alae_io.h"]


class Function:
    def __init__(self, header, name, ret, params, text, note):
        self.header = header
        self.name = name
        self.ret = ret          # normalised C type
        self.params = params    # [(type, name)], type normalised; arrays become "T [n]"
        self.text = text        # the declaration, one line
        self.note = note        # trailing comment on the declaration's line, or ""
        self.group = None

    def __repr__(self):
        return "Function(%s)" % self.name


class Group:
    """A comment and the declarations it documents."""

    def __init__(self, comment):
        self.comment = comment
        self.functions = []


class Header:
    def __init__(self, name):
        self.name = name
        self.intro = ""
        self.groups = []        # function groups, in order
        self.constants = []     # (section comment, [(name, value, comment)])
        self.types = []         # (comment, code)
        self.handles = []       # opaque handle type names
        self.structs = {}       # name -> [(ctype, field, array length or None)]
        self.macros = []        # other ALAE_* macros (export.h)

    @property
    def functions(self):
        return [f for g in self.groups for f in g.functions]


def _clean_comment(raw):
    """The text of a /* */ comment, without the markers and leading stars."""
    body = raw.strip()
    body = body[2:-2] if body.startswith("/*") and body.endswith("*/") else body
    lines = []
    for line in body.split("\n"):
        s = line.strip()
        if s.startswith("*"):  # " * text": keep the indentation after "* " (laid-out lines)
            s = line.lstrip()[1:]
            s = s[1:] if s.startswith(" ") else s
            s = s.rstrip()
        lines.append(s)
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _normalise_type(t):
    t = re.sub(r"\bconst\b", "", t)
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"\s*\*", " *", t)
    t = t.replace("* *", "**").replace("* *", "**")
    return t.strip()


def _split_params(params):
    params = params.strip()
    if params in ("", "void"):
        return []
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch in "(["
        depth -= ch in ")]"
        cur += ch
    out.append(cur)
    result = []
    for p in out:
        p = p.strip()
        m = re.match(r"^(.*?)([A-Za-z_]\w*)\s*(\[\s*\w*\s*\])?$", p)
        if not m:
            raise ValueError("cannot parse parameter %r" % p)
        ctype, name, array = m.group(1), m.group(2), m.group(3)
        ctype = _normalise_type(ctype)
        if array:
            ctype = ctype + " " + array.replace(" ", "")
        result.append((ctype, name))
    return result


_DECL = re.compile(r"ALAE_API\s+(?P<ret>[\w\s\*]+?)\s*\b(?P<name>alae_\w+)\s*\((?P<params>[^)]*)\)\s*;", re.S)


def parse_header(path):
    name = os.path.basename(path)
    h = Header(name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # The intro: the first comment of the file.
    m = re.match(r"\s*(/\*.*?\*/)", text, re.S)
    intro_end = 0
    if m:
        h.intro = _clean_comment(m.group(1))
        intro_end = m.end()
    lines = text[intro_end:].split("\n")
    i = 0
    pending = None        # a comment block waiting for what follows it
    group = None          # the function group being extended
    const_section = None  # the constants block being extended
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:  # a blank line ends every attachment
            pending, group, const_section = None, None, None
            i += 1
            continue
        if stripped.startswith("/*"):
            block = [line]
            while "*/" not in lines[i]:
                i += 1
                block.append(lines[i])
            pending = (None, _clean_comment("\n".join(block)))
            group = None
            i += 1
            continue
        if stripped.startswith("ALAE_API"):
            decl = [line]
            while ";" not in lines[i]:
                i += 1
                decl.append(lines[i])
            joined = "\n".join(decl)
            semi = joined.index(";")
            after = joined[semi + 1:]
            note = ""
            nm = re.search(r"/\*(.*?)\*/", after, re.S)
            if nm:
                note = _clean_comment("/*" + nm.group(1) + "*/")
            dm = _DECL.search(joined[:semi + 1])
            if not dm:
                raise ValueError("%s: cannot parse %r" % (name, joined))
            params = _split_params(dm.group("params"))
            ret = _normalise_type(dm.group("ret"))
            decl_text = re.sub(r"\s+", " ", joined[:semi + 1]).strip()
            decl_text = re.sub(r"\(\s+", "(", decl_text)
            fn = Function(name, dm.group("name"), ret, params, decl_text, note)
            if pending is not None:
                group = Group(pending[1])
                h.groups.append(group)
            elif group is None:
                group = Group("")
                h.groups.append(group)
            group.functions.append(fn)
            fn.group = group
            pending = None
            i += 1
            continue
        dm = re.match(r"#define\s+(ALAE_\w+)\s+(.*)$", stripped)  # a constant (column 0)
        if dm and not dm.group(1).endswith("_H"):
            macro, rest = dm.group(1), dm.group(2)
            comment = ""
            cm = re.search(r"/\*(.*)$", rest)
            if cm:
                value = rest[:cm.start()].strip()
                body = rest[cm.start():]
                while "*/" not in body:
                    i += 1
                    body += "\n" + lines[i]
                comment = re.sub(r"\s+", " ", _clean_comment(body))
            else:
                value = rest.strip()
            if const_section is None:
                title = pending[1] if pending is not None else ""
                const_section = (title, [])
                h.constants.append(const_section)
            const_section[1].append((macro, value, comment))
            pending = None
            i += 1
            continue
        hm = re.match(r"typedef struct (alae_\w+) (alae_\w+);", stripped)
        if hm:
            h.handles.append(hm.group(2))
            i += 1
            continue
        if stripped.startswith("typedef"):
            block = [line]
            if "{" in line:
                while not re.match(r"\s*}\s*\w+\s*;", lines[i]):
                    i += 1
                    block.append(lines[i])
                sm = re.match(r"typedef struct (alae_\w+)", stripped)
                if sm:
                    fields = []
                    for fl in block[1:-1]:
                        fm = re.match(r"\s*([\w ]+?)\s+(\w+)\s*(?:\[(\d+)\])?\s*;", fl)
                        if fm:
                            fields.append((fm.group(1).strip(), fm.group(2), int(fm.group(3)) if fm.group(3) else None))
                    h.structs[sm.group(1)] = fields
            else:
                while ";" not in lines[i]:
                    i += 1
                    block.append(lines[i])
            comment = pending[1] if pending is not None else ""
            h.types.append((comment, "\n".join(block)))
            pending = None
            i += 1
            continue
        # preprocessor lines, extern "C" and braces end an attachment
        if not stripped.startswith("#"):
            pending = None
        group = None
        i += 1
    # macros defined with indentation (alae_export.h defines them under #if)
    for mm in re.finditer(r"^#\s+define\s+(ALAE_\w+)", text, re.M):
        if mm.group(1) not in h.macros:
            h.macros.append(mm.group(1))
    return h


def parse_headers(directory=HEADER_DIR):
    """Every public header (include/alae/*.h and alae_version.h.in), in reference order."""
    names = [n for n in os.listdir(directory) if n.endswith(".h") or n.endswith(".h.in")]
    order = {n: i for i, n in enumerate(HEADER_ORDER)}
    names.sort(key=lambda n: (order.get(n, len(order)), n))
    return [parse_header(os.path.join(directory, n)) for n in names]


def api_functions(directory=HEADER_DIR):
    """{name: Function} of every ALAE_API function."""
    return {f.name: f for h in parse_headers(directory) for f in h.functions}


# ---- the reference ----

def _anchor(name):
    return name.lower().replace(".", "")


def render(headers):
    out = []
    w = out.append
    w("# libalae C API reference")
    w("")
    w("<!-- Generated by tools/gen_api_docs.py from the comments of include/alae/*.h: do not edit by hand;")
    w("     run `python3 tools/gen_api_docs.py` after changing a public header. -->")
    w("")
    w("Every public function, constant and type of `#include <alae/alae.h>`, header by header, with the")
    w("comment the header gives it. The conventions that hold for every function unless its comment")
    w("says otherwise are stated once in [Conventions](#conventions); the error codes are in")
    w("[error-codes.md](../error-codes.md), the thread rules in [threading.md](../threading.md).")
    w("")
    w("## Conventions")
    w("")
    w("- **Errors.** A function returning `alae_status` returns `ALAE_OK` (0) or a negative `ALAE_E_*` code;")
    w("  `alae_last_error()` then holds a message naming the function. Any function given a NULL handle or")
    w("  NULL out-pointer where one is required fails with `ALAE_E_INVALID_ARG`. On failure out-parameters")
    w("  are left untouched and nothing leaks; a successful call clears `alae_last_error()` on its thread.")
    w("- **Ownership.** An object returned through an `alae_x **out` parameter belongs to the caller, who")
    w("  releases it with the matching `alae_x_destroy` (destroy functions accept NULL). Objects keep")
    w("  pointers to the objects they were created from (a model to its context, an optimizer to its")
    w("  model, a trainer to its model and optimizers): destroy them in reverse order of creation.")
    w("  Strings returned as `const char *` belong to the library. Memory the library allocates for the")
    w("  caller (`alae_npy_read_f32`) is released with `alae_free`.")
    w("- **Threads.** An `alae_context` is the unit of concurrency: calls on one context and on every")
    w("  object created from it must be serialized by the caller; different contexts may be used from")
    w("  different threads at once. Functions marked *Thread-safe* may be called from any thread at any")
    w("  time. The library never aborts or exits the process.")
    w("")
    w("## Contents")
    w("")
    for h in headers:
        title = h.name.replace(".h.in", ".h")
        fns = h.functions
        w("- [`%s`](#%s)%s" % (title, _anchor(title), (": " + ", ".join("`%s`" % f.name for f in fns)) if fns else ""))
    w("")
    for h in headers:
        title = h.name.replace(".h.in", ".h")
        w("## %s" % title)
        w("")
        if h.name.endswith(".in"):
            w("*Generated by CMake from `include/alae/%s` into the build tree and installed as `<alae/%s>`.*" % (h.name, title))
            w("")
        if h.intro:
            w(_para(h.intro))
            w("")
        if h.macros:
            w("Macros: %s." % ", ".join("`%s`" % m for m in h.macros))
            w("")
        if h.handles:
            w("Opaque handle types: %s." % ", ".join("`%s`" % t for t in h.handles))
            w("")
        for comment, code in h.types:
            w("```c")
            w(code.strip("\n"))
            w("```")
            w("")
            if comment:
                w(_para(comment))
                w("")
        for title_comment, consts in h.constants:
            if title_comment:
                w("**%s**" % _escape(re.sub(r"\s+", " ", title_comment)))
                w("")
            w("| constant | value | |")
            w("|---|---|---|")
            for cname, value, comment in consts:
                value = value.replace("|", "\\|")
                if "@" in value:
                    value = "(set by CMake)" if "(" not in value else value
                w("| `%s` | `%s` | %s |" % (cname, value, _escape(comment).replace("|", "\\|")))
            w("")
        for g in h.groups:
            w("### %s" % ", ".join("`%s`" % f.name for f in g.functions))
            w("")
            w("```c")
            for f in g.functions:
                w(f.text + (" /* %s */" % f.note if f.note else ""))
            w("```")
            w("")
            if g.comment:
                w(_para(g.comment))
            else:
                w("*(No comment in the header.)*")
            w("")
    return "\n".join(out).rstrip("\n") + "\n"


def _para(text):
    """A comment as Markdown: lines joined into paragraphs; "- " lines start list items (indented
    lines continue them); other lines indented by two or more spaces are kept as code."""
    paras, cur, mode = [], [], None

    def flush():
        if cur:
            paras.append(("- " if mode == "list" else "") + " ".join(cur))
        del cur[:]

    for line in text.split("\n"):
        s = line.strip()
        if not s:
            flush()
            mode = None
            continue
        if s.startswith("- "):
            flush()
            mode = "list"
            cur.append(s[2:])
        elif line.startswith("  ") and mode != "list":
            flush()
            mode = None
            paras.append("    " + s)
        else:
            if mode is None and paras and paras[-1].startswith("    ") and not cur:
                mode = "text"
            cur.append(s)
    flush()
    paras = [p if p.startswith("    ") else (p[:2] + _escape(p[2:]) if p.startswith("- ") else _escape(p))
             for p in paras]
    out = []
    for p in paras:
        glue_code = p.startswith("    ") and out and out[-1].startswith("    ")
        glue_list = p.startswith("- ") and out and out[-1].startswith("- ")
        if glue_code or glue_list:
            out[-1] += "\n" + p
        else:
            out.append(p)
    return "\n\n".join(out)


def _escape(text):
    """Prose from a C comment, safe in Markdown: no HTML tags, no emphasis from * or _."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


# ---- lint: what the comments should say ----

def lint(headers):
    """[(function, [missing aspects])] for functions whose own comment (or group comment) does not
    cover ownership, thread-safety or errors where it matters."""
    problems = []
    for h in headers:
        for f in h.functions:
            doc = (f.group.comment + " " + f.note).lower()
            missing = []
            if not f.group.comment and not f.note:
                missing.append("no comment at all")
            creates = any(t.endswith("**") and t.startswith("alae_") for t, _ in f.params)
            if creates and not re.search(r"destroy|caller owns|owns|release|free", doc):
                missing.append("ownership: who destroys *out")
            if f.ret == "char *" and not re.search(r"static|owned|valid until|storage", doc):
                missing.append("ownership: lifetime of the returned string")
            if any(t == "float **" for t, _ in f.params) and "alae_free" not in doc:
                missing.append("ownership: how to free the returned buffer")
            if f.name.endswith("_destroy") and "null" not in doc:
                missing.append("ownership: NULL is a no-op")
            takes_handle = any(re.match(r"alae_\w+ \*$", t) and t.split()[0] in _all_handles(headers) for t, _ in f.params)
            if not takes_handle and not re.search(r"thread", doc):
                missing.append("thread-safety (no context: say whether it is thread-safe)")
            if f.ret == "alae_status" or f.name == "alae_check_version":
                if not re.search(r"alae_e_|fail|error", doc):
                    missing.append("errors: which codes it returns")
            if missing:
                problems.append((f, missing))
    return problems


_handles_cache = None


def _all_handles(headers):
    global _handles_cache
    if _handles_cache is None:
        _handles_cache = {t for h in headers for t in h.handles}
    return _handles_cache


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if the reference is not up to date")
    ap.add_argument("--lint", action="store_true", help="list missing ownership/thread/error documentation")
    ap.add_argument("--output", default=OUTPUT)
    ap.add_argument("--headers", default=HEADER_DIR)
    args = ap.parse_args(argv)
    headers = parse_headers(args.headers)
    if args.lint:
        for f, missing in lint(headers):
            print("%s (%s): %s" % (f.name, f.header, "; ".join(missing)))
        return 0
    text = render(headers)
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "docs/api/reference.md (committed)",
                                        "docs/api/reference.md (from the headers)", lineterm="", n=1)
            sys.stdout.write("\n".join(list(diff)[:80]) + "\n")
            print("docs/api/reference.md is out of date with include/alae/*.h: run `python3 tools/gen_api_docs.py` "
                  "and commit the result.")
            return 1
        n = sum(len(h.functions) for h in headers)
        print("docs/api/reference.md is up to date (%d functions in %d headers)" % (n, len(headers)))
        return 0
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(text)
    print("wrote %s" % os.path.relpath(args.output, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
