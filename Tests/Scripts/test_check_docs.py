"""scripts/check-docs.py finds what it promises to find, on small trees made here, and passes the
repository itself."""
import hashlib
import importlib.util
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("check_docs", REPO / "scripts" / "check-docs.py")
check_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_docs)


def tree(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def stamped_svg(source_text, name="picture.dot"):
    digest = hashlib.sha256(source_text.encode()).hexdigest()
    return f'<?xml version="1.0"?>\n<!-- source: {name} sha256:{digest} -->\n<svg></svg>\n'


def test_a_link_to_a_missing_file_is_found_and_one_to_an_existing_file_is_not(tmp_path):
    root = tree(tmp_path, {
        "README.md": "[ok](docs/a.md) [anchor](#x) [web](https://example.com) [gone](docs/missing.md#part)\n",
        "docs/a.md": "[back](../README.md) [gone too](b.md)\n",
        "docs/configuration.md": "",
    })
    problems = check_docs.check_links(root)
    assert problems == [
        "README.md:1: link to docs/missing.md#part, which does not exist",
        "docs/a.md:1: link to b.md, which does not exist",
    ]


def test_paths_in_backticks_must_exist_up_to_their_first_placeholder(tmp_path):
    root = tree(tmp_path, {
        "Sources/Platform/Migrations/0001_initial.sql": "",
        "scripts/run.sh": "",
        "README.md": "`Sources/Platform/Migrations/NNNN_*.sql` `Sources/Jobs/Migrations/0001.sql` `scripts/<name>.sh`\n"
                     "```\n`Sources/Fenced/ignored.swift`\n```\n",
    })
    assert check_docs.check_links(root) == ["README.md:1: `Sources/Jobs/Migrations/0001.sql` does not exist"]


def test_a_variable_the_code_reads_must_be_named_in_configuration(tmp_path):
    root = tree(tmp_path, {
        "Sources/App/Settings.swift": 'let a = reader.string("DOCUMENTED_ONE", default: "")\n'
                                      'let b = try reader.int("FORGOTTEN_ONE", default: 1, range: 1...2)\n'
                                      'let c = environment["KUBECONFIG"]\nlet d = environment["PATH"]\n'
                                      'let cap = "NET_BIND_SERVICE"\n',
        "docs/configuration.md": "| `DOCUMENTED_ONE` | ... |\n",
    })
    assert check_docs.check_configuration(root) == [
        "Sources/App/Settings.swift: reads FORGOTTEN_ONE, which docs/configuration.md does not name",
        "Sources/App/Settings.swift: reads KUBECONFIG, which docs/configuration.md does not name",
    ]


def test_a_picture_not_redrawn_after_its_source_changed_is_found(tmp_path):
    source = "digraph { a -> b }\n"
    root = tree(tmp_path, {"docs/picture.dot": source, "docs/picture.svg": stamped_svg(source)})
    assert check_docs.check_pictures(root) == []
    (tmp_path / "docs" / "picture.dot").write_text("digraph { a -> c }\n")
    assert check_docs.check_pictures(root) == ["docs/picture.svg: older than docs/picture.dot; run scripts/render-docs.sh"]
    (tmp_path / "docs" / "picture.svg").write_text("<svg></svg>\n")
    assert check_docs.check_pictures(root) == ["docs/picture.svg: not drawn by scripts/render-docs.sh (no source stamp)"]
    (tmp_path / "docs" / "picture.svg").unlink()
    assert check_docs.check_pictures(root) == ["docs/picture.dot: no docs/picture.svg drawn from it (scripts/render-docs.sh)"]


def test_the_repository_passes():
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "check-docs.py")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
