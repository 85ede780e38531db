"""scripts/check-metrics.py: a board or rule naming a metric or label the services do not export fails."""
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check-metrics.py"


def run(tmp_path, exposition):
    path = tmp_path / "metrics.txt"
    path.write_text(exposition)
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True)


def full_exposition():
    """Every family the committed boards and rules name, with the labels they select on."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_metrics", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = []
    for _, expr in module.expressions():
        for name, selector in module.NAME.findall(expr):
            base = next((name[: -len(s)] for s in module.SUFFIXES if name.endswith(s)), name)
            kind = "histogram" if base != name or "duration" in name or "delay" in name else "counter"
            labels = ",".join(f'{label}="x"' for label, _ in module.MATCHER.findall(selector or "") if label != "le")
            lines.append(f"# TYPE {base} {kind}")
            sample = f"{base}_count" if kind == "histogram" else base
            lines.append(f"{sample}{{{labels}}} 1" if labels else f"{sample} 1")
    return "\n".join(lines) + "\n"


def test_everything_exported_passes(tmp_path):
    res = run(tmp_path, full_exposition())
    assert res.returncode == 0, res.stderr
    assert "0 problems" in res.stdout


def test_a_missing_family_is_named(tmp_path):
    text = "\n".join(l for l in full_exposition().splitlines() if "storefleet_live_workers" not in l) + "\n"
    res = run(tmp_path, text)
    assert res.returncode == 1
    assert "storefleet_live_workers is not exported" in res.stderr


def test_a_label_the_samples_lack_is_named(tmp_path):
    text = full_exposition().replace('kind="x"', 'type="x"')
    res = run(tmp_path, text)
    assert res.returncode == 1
    assert "has no label 'kind'" in res.stderr
