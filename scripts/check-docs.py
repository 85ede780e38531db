#!/usr/bin/env python3
"""Keeps the docs true to the tree; run by scripts/test.sh.

  scripts/check-docs.py [--root DIR]

Fails (exit 1, one line per finding) when
  * a Markdown link points at a file or folder that does not exist;
  * a path in backticks under Sources/, Tests/, scripts/, docs/, charts/ or deploy/ does not exist
    (a glob or placeholder component such as `NNNN_*.sql` or `<name>` checks the folder before it);
  * an environment variable the Swift code reads is not named in docs/configuration.md;
  * a docs/*.svg drawn from a docs/*.dot was not redrawn after its source changed
    (scripts/render-docs.sh stamps each SVG with its source's SHA-256).
"""
import argparse
import hashlib
import os
import re
import sys

SKIP_DIRS = {".git", ".build", ".tools", ".data", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_PATH = re.compile(r"`((?:Sources|Tests|scripts|docs|charts|deploy)/[^`\s]*)`")
FENCE = re.compile(r"^\s*(```|~~~)")
# Upper-case names with an underscore in Swift string literals, and whatever is looked up in an
# environment dictionary: the variables the code reads.
ENV_LITERAL = re.compile(r"\"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\"")
ENV_LOOKUP = re.compile(r"environment\[\"([A-Za-z_][A-Za-z0-9_]*)\"\]")
# Literals that look like variables but are not read from the process environment.
NOT_VARIABLES = {
    "AUDIT_WRITE": "a Linux capability kube-sim's Pod Security check knows",
    "DAC_OVERRIDE": "a Linux capability kube-sim's Pod Security check knows",
    "NET_BIND_SERVICE": "a Linux capability kube-sim's Pod Security check knows",
    "SYS_CHROOT": "a Linux capability kube-sim's Pod Security check knows",
    "STORE_PRODUCTS": "a container variable of the setup Job that kube-sim reads from the pod spec",
}
# Set by the system or the shell rather than by whoever runs Storefleet.
SYSTEM = {"PATH", "HOME", "TMPDIR", "USER", "LANG"}


def walk(root, suffixes):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(suffixes):
                yield os.path.join(directory, name)


def prose_lines(path):
    """(line number, text) of a Markdown file outside fenced code blocks."""
    fenced = False
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                yield number, line


def placeholder(component):
    return any(mark in component for mark in ("*", "<", ">", "{", "NNNN", "…", "...", "$"))


def check_links(root):
    problems = []
    for path in walk(root, (".md",)):
        relative = os.path.relpath(path, root)
        for number, line in prose_lines(path):
            for target in LINK.findall(line):
                target = target.strip("<>")
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue
                file_part = target.split("#", 1)[0]
                if not file_part:
                    continue
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                if not os.path.exists(resolved):
                    problems.append(f"{relative}:{number}: link to {target}, which does not exist")
            for mention in CODE_PATH.findall(line):
                mention = mention.rstrip(".,:;)")
                parts = mention.split("/")
                kept = []
                for part in parts:
                    if placeholder(part):
                        break
                    kept.append(part)
                candidate = os.path.join(root, *kept) if kept else root
                if kept and not os.path.exists(candidate):
                    problems.append(f"{relative}:{number}: `{mention}` does not exist")
    return problems


def variables_read(root):
    found = {}
    for path in walk(os.path.join(root, "Sources"), (".swift",)):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for name in ENV_LITERAL.findall(text) + ENV_LOOKUP.findall(text):
            if name in NOT_VARIABLES or name in SYSTEM or name.islower():
                continue
            found.setdefault(name, os.path.relpath(path, root))
    return found


def check_configuration(root):
    document = os.path.join(root, "docs", "configuration.md")
    if not os.path.exists(document):
        return ["docs/configuration.md is missing"]
    with open(document, encoding="utf-8") as handle:
        text = handle.read()
    named = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", text))
    return [f"{where}: reads {name}, which docs/configuration.md does not name"
            for name, where in sorted(variables_read(root).items()) if name not in named]


def check_pictures(root):
    problems = []
    docs = os.path.join(root, "docs")
    for source in sorted(p for p in os.listdir(docs) if p.endswith(".dot")) if os.path.isdir(docs) else []:
        svg = os.path.join(docs, source[:-4] + ".svg")
        with open(os.path.join(docs, source), "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        if not os.path.exists(svg):
            problems.append(f"docs/{source}: no docs/{source[:-4]}.svg drawn from it (scripts/render-docs.sh)")
            continue
        with open(svg, encoding="utf-8") as handle:
            head = handle.read(4096)
        stamp = re.search(r"<!-- source: (\S+) sha256:([0-9a-f]{64}) -->", head)
        if not stamp or stamp.group(1) != source:
            problems.append(f"docs/{source[:-4]}.svg: not drawn by scripts/render-docs.sh (no source stamp)")
        elif stamp.group(2) != digest:
            problems.append(f"docs/{source[:-4]}.svg: older than docs/{source}; run scripts/render-docs.sh")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    root = os.path.abspath(parser.parse_args().root)
    problems = check_links(root) + check_configuration(root) + check_pictures(root)
    for problem in problems:
        print(f"check-docs: {problem}")
    print(f"check-docs: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
