#!/usr/bin/env python3
"""Fail when a function in core/*.c is longer than 60 lines (a function
that size can be read whole).  A function is a line "{" at column 0 with its signature above it and
the matching "}" at column 0."""
import glob, os, sys

LIMIT = 60
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bad = 0
for path in sorted(glob.glob(os.path.join(root, "core", "*.c"))):
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        if line != "{":
            continue
        s = i - 1   # the signature: back over its continuation lines
        while s > 0 and lines[s].startswith(" ") and lines[s - 1].strip() and not lines[s - 1].startswith(("/*", " *")):
            s -= 1
        j = lines.index("}", i)
        if j - s + 1 > LIMIT:
            print("%s:%d: %s... is %d lines (limit %d)" % (os.path.relpath(path, root), s + 1, lines[s][:50], j - s + 1, LIMIT))
            bad = 1
sys.exit(bad)
