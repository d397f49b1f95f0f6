#!/usr/bin/env python3
"""Checks docs/cli.md against the alae tool: every command `alae --help` lists has a section
"## alae <command>", and every --option its `alae <command> --help` shows appears in that section.

    check_cli_manual.py ALAE_BINARY DOCS/cli.md
"""

import re
import subprocess
import sys


def main(binary, manual):
    with open(manual, encoding="utf-8") as f:
        text = f.read()
    sections = {}
    for m in re.finditer(r"^## alae (\w+)\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        sections[m.group(1)] = m.group(2)
    usage = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60).stdout
    block = usage.split("commands:", 1)[1].split("\n\n", 1)[0]
    commands = re.findall(r"^  (\w+) ", block, re.M)
    problems = []
    if not commands:
        problems.append("`alae --help` lists no commands")
    for cmd in commands:
        if cmd not in sections:
            problems.append("no section '## alae %s'" % cmd)
            continue
        out = subprocess.run([binary, cmd, "--help"], capture_output=True, text=True, timeout=60).stdout
        for option in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out)) - {"--help"}):
            if not re.search(r"`%s[ `=]" % re.escape(option), sections[cmd]):
                problems.append("alae %s: option %s is not documented in its section" % (cmd, option))
    for problem in problems:
        print(problem)
    if problems:
        print("docs/cli.md is out of date with the alae tool (%d problems): document them" % len(problems))
        return 1
    print("docs/cli.md documents all %d commands and their options" % len(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
