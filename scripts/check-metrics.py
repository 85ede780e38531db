#!/usr/bin/env python3
"""Checks that Storefleet's dashboards and alert rules name only metrics the services export.

    scripts/check-metrics.py URL|FILE...     (each a /metrics exposition: the gateway's, a worker's)

Reads every PromQL expression in charts/platform/files/observability (the Grafana boards' targets and
the rule file's `expr`s), and for each metric it names checks that some exposition announces that family
(a histogram's _bucket/_sum/_count included), and that each label a selector matches on is one the
family's samples carry (when it has samples). Prints what it checked; exits 1 naming what is missing.
scripts/e2e.sh runs it against the live gateway and a worker after its workload.
"""
import json
import pathlib
import re
import sys
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1] / "charts" / "platform" / "files" / "observability"
NAME = re.compile(r"(?<![A-Za-z0-9_:])(storefleet_[a-z0-9_]+)(\{[^}]*\})?")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"')
SUFFIXES = ("_bucket", "_sum", "_count")


def expressions():
    for board in sorted((ROOT / "dashboards").glob("*.json")):
        for panel in json.loads(board.read_text())["panels"]:
            for t in panel.get("targets", []):
                yield f"{board.name}: {panel['title']}", t["expr"]
    rules = yaml.safe_load((ROOT / "storefleet-rules.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"storefleet-rules.yaml: {rule.get('alert') or rule.get('record')}", rule["expr"]


def exposition(source):
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=10) as response:
            return response.read().decode()
    return pathlib.Path(source).read_text()


def parse(text):
    """family -> (type, set of label names seen on its samples)"""
    families = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            families.setdefault(name, [kind, set()])[0] = kind
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
            if not m:
                continue
            name = m.group(1)
            base = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s) and name[: -len(s)] in families), name)
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
            families.setdefault(base, ["untyped", set()])[1].update(labels - {"le"})
    return families


def main(sources):
    if not sources:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    families = {}
    for source in sources:
        for name, (kind, labels) in parse(exposition(source)).items():
            entry = families.setdefault(name, [kind, set()])
            entry[1].update(labels)
    problems, checked = [], set()
    for where, expr in expressions():
        for name, selector in NAME.findall(expr):
            base = name
            if name not in families:
                base = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
                if base not in families or families[base][0] != "histogram":
                    problems.append(f"{where}: {name} is not exported")
                    continue
            checked.add(base)
            seen = families[base][1]
            for label, _ in MATCHER.findall(selector or ""):
                if seen and label not in seen and label != "le":
                    problems.append(f"{where}: {name} has no label {label!r} (it has {', '.join(sorted(seen))})")
    for p in problems:
        print("check-metrics: " + p, file=sys.stderr)
    print(f"check-metrics: {len(checked)} metrics named by the dashboards and rules, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
