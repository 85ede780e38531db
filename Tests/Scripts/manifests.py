"""What both chart test files read from rendered manifests, and the checks every container must pass."""

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "DaemonSet")


def workloads(docs):
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def pod_spec(doc):
    return doc["spec"]["template"]["spec"]


def containers(doc, init=True):
    spec = pod_spec(doc)
    return spec["containers"] + (spec.get("initContainers", []) if init else [])


def assert_requests_and_limits(docs, label=""):
    """CPU and memory requests and limits on every container, init containers included."""
    for w in workloads(docs):
        for c in containers(w):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    assert res.get(kind, {}).get(r), f"{label} {w['metadata']['name']}/{c['name']} lacks {kind}.{r}"


def assert_images_pinned(docs):
    """Every container image names a tag, and not `latest`: a store or platform pod must start the
    image that was tested, not whatever the registry holds today."""
    for w in workloads(docs):
        for c in containers(w):
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1], f"{image} has no tag"
            assert not image.endswith(":latest"), image
