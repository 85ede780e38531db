#!/usr/bin/env python3
"""Drives and checks the end-to-end, chaos and scaling runs through the public API (standard library only).

    proof.py workload --stores N [--report FILE] [--deadline S]   create N stores, wait, delete them, wait
    proof.py verify --report FILE [--journal FILE] [--kills FILE] [--all-succeed]
    proof.py bench --stores N --report FILE                        create N stores, report throughput and overhead

Reads GATEWAY_URL and ADMIN_TOKEN, and for verify SIM_URL, SIM_TOKEN and SIM_CA. Exits non-zero with
one line per broken promise.
"""
import argparse
import collections
import concurrent.futures
import datetime
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request

GATEWAY = os.environ.get("GATEWAY_URL", "")
ADMIN = os.environ.get("ADMIN_TOKEN", "")


class APIError(Exception):
    pass


def call(method, path, body=None, token=None, retry_for=60.0):
    """One API call. Connection failures and 5xx/429 answers are retried for a while: the gateway's
    backends are restarted during chaos runs, and a client would retry too."""
    data = None if body is None else json.dumps(body).encode()
    deadline = time.monotonic() + retry_for
    delay = 0.2
    while True:
        request = urllib.request.Request(GATEWAY + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + (token or ADMIN))
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            if error.code in (429, 500, 502, 503, 504) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 3)
                continue
            raise APIError(f"{method} {path}: {error.code} {text[:300]}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            if time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 3)
                continue
            raise APIError(f"{method} {path}: {error}") from None


def sim(path):
    context = ssl.create_default_context(cafile=os.environ["SIM_CA"])
    request = urllib.request.Request(os.environ["SIM_URL"] + path)
    request.add_header("Authorization", "Bearer " + os.environ["SIM_TOKEN"])
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return json.loads(response.read())


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def wait_for(stores, wanted, deadline, label):
    """Polls every store until its status is one of `wanted` (or failed); prints progress."""
    pending = dict(stores)
    last_print = 0.0
    while pending and time.monotonic() < deadline:
        for store_id in list(pending):
            store = call("GET", f"/api/stores/{store_id}")
            if store["status"] in wanted or store["status"] == "failed":
                pending.pop(store_id)
                stores[store_id] = store
        if time.monotonic() - last_print > 10:
            print(f"  {label}: {len(stores) - len(pending)}/{len(stores)} done", flush=True)
            last_print = time.monotonic()
        if pending:
            time.sleep(1)
    return pending


def workload(args):
    suffix = format(int(time.time() * 1000) % 10**8, "x")
    tenant = call("POST", "/api/tenants", {"name": f"proof-{suffix}", "store_limit": 1000})
    token = call("POST", f"/api/tenants/{tenant['id']}/tokens", {"name": "proof"})["token"]
    engines = ["woocommerce", "medusa"]
    names = [f"p{suffix}-{index}" for index in range(args.stores)]
    started = time.time()
    jobs = []
    lock = threading.Lock()

    def create(index):
        accepted = call("POST", "/api/stores", {"name": names[index], "engine": engines[index % 2]}, token=token)
        with lock:
            jobs.append(accepted["job"]["id"])
        return accepted["store"]["id"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        store_ids = list(pool.map(create, range(args.stores)))
    print(f"  created {len(store_ids)} stores through the API in {time.time() - started:.1f}s", flush=True)
    deadline = time.monotonic() + args.deadline
    stores = {store_id: None for store_id in store_ids}
    left = wait_for(stores, {"ready"}, deadline, "ready")
    ready_at = time.time()
    report = {"tenant": tenant["id"], "stores": store_ids, "jobs": jobs, "started": started, "ready_at": ready_at,
              "not_ready": list(left), "failed_creates": [s for s, v in stores.items() if v and v["status"] == "failed"]}
    if args.creates_only:
        json.dump(report, open(args.report, "w"))
        return 0 if not left and not report["failed_creates"] else 1
    # Postgres and the cluster agree while the stores are up: each ready store has its namespace,
    # labelled with its ID.
    if "SIM_URL" in os.environ:
        namespaces = set(sim("/sim/namespaces")["namespaces"])
        missing = [s for s, v in stores.items() if v and v["status"] == "ready" and v["namespace"] not in namespaces]
        report["ready_without_namespace"] = missing

    def delete(store_id):
        accepted = call("DELETE", f"/api/stores/{store_id}", token=token)
        with lock:
            jobs.append(accepted["job"]["id"])

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(delete, store_ids))
    stores = {store_id: None for store_id in store_ids}
    left = wait_for(stores, {"deleted"}, time.monotonic() + args.deadline, "deleted")
    report["not_deleted"] = list(left)
    report["finished"] = time.time()
    report["jobs"] = jobs
    with open(args.report, "w") as handle:
        json.dump(report, handle)
    print(f"  {len(store_ids)} stores created and deleted in {report['finished'] - started:.1f}s", flush=True)
    return 0


def verify(args):
    report = json.load(open(args.report))
    problems = []
    for key in ("not_ready", "not_deleted", "ready_without_namespace"):
        if report.get(key):
            problems.append(f"{key}: {report[key][:5]} ({len(report[key])})")
    if args.all_succeed and report.get("failed_creates"):
        problems.append(f"failed creates: {report['failed_creates'][:5]}")

    statuses = collections.Counter()
    retries = collections.Counter()
    attempts_by_job = {}
    failures = []
    for job_id in report["jobs"]:
        job = call("GET", f"/api/jobs/{job_id}?include=transitions")
        statuses[job["status"]] += 1
        if job["status"] == "failed":
            failures.append(f"{job['kind']} {job_id}: {job.get('error', '')}")
        if job["status"] not in ("succeeded", "failed", "cancelled"):
            problems.append(f"job {job_id} ended {job['status']}")
            continue
        if args.all_succeed and job["status"] != "succeeded":
            problems.append(f"job {job_id} ({job['kind']}) {job['status']}: {job.get('error', '')}")
        if job["kind"] == "store.delete" and job["status"] != "succeeded":
            problems.append(f"delete job {job_id} {job['status']}: {job.get('error', '')}")
        transitions = sorted(job.get("transitions", []), key=lambda t: t["id"])
        # Every attempt of every step that started has its ending, in order; steps run in plan order.
        open_attempts = {}
        last_position = -1
        attempts = []
        for t in transitions:
            step = t.get("step")
            if step is None:
                continue
            key = (step, t["attempt"])
            if t["status"] == "running":
                if key in open_attempts:
                    problems.append(f"job {job_id}: {step} attempt {t['attempt']} started twice")
                open_attempts[key] = t
                if t["position"] < last_position and job["status"] == "succeeded":
                    # Only a retry of an earlier step could go back; plans never do.
                    problems.append(f"job {job_id}: step {step} ran after a later step")
                last_position = max(last_position, t["position"])
            else:
                begun = open_attempts.pop(key, None)
                if begun is None:
                    problems.append(f"job {job_id}: {step} attempt {t['attempt']} ended ({t['status']}) without starting")
                    continue
                attempts.append((parse_time(begun["at"]), parse_time(t["at"]), begun.get("worker_id"), step, t.get("message") or ""))
                if t["status"] == "retrying":
                    retries[classify(t.get("message", ""))] += 1
        if job["status"] == "succeeded":
            if open_attempts:
                problems.append(f"job {job_id}: attempts without an ending: {sorted(open_attempts)}")
            unfinished = [s["name"] for s in job["steps"] if s["status"] != "succeeded"]
            if unfinished:
                problems.append(f"job {job_id} succeeded with steps {unfinished} not succeeded")
        attempts_by_job[job_id] = attempts
        # No two workers ran this job at once: attempts never overlap.
        ordered = sorted(attempts)
        for (s1, e1, w1, st1, _), (s2, e2, w2, st2, _) in zip(ordered, ordered[1:]):
            if s2 < e1 - 0.001:
                problems.append(f"job {job_id}: {st1} on {w1} and {st2} on {w2} overlapped")

    # The cluster has nothing left of the stores, and Postgres says they are deleted.
    leftovers = []
    if "SIM_URL" in os.environ:
        leftovers = [n for n in sim("/sim/namespaces")["namespaces"] if n.startswith("store-")]
        if leftovers:
            problems.append(f"store namespaces left in the cluster: {leftovers[:5]} ({len(leftovers)})")
    for store_id in report["stores"]:
        store = call("GET", f"/api/stores/{store_id}")
        if store["status"] != "deleted":
            problems.append(f"store {store_id} is {store['status']} in Postgres after its delete")

    overlaps = release_overlaps(args.journal, args.kills) if args.journal else []
    problems += overlaps
    summary = {"jobs": sum(statuses.values()), "by_status": dict(statuses), "retries_by_cause": dict(retries)}
    if args.kills and os.path.exists(args.kills):
        summary.update(recoveries(args.kills, attempts_by_job))
    print("summary: " + json.dumps(summary, sort_keys=True))
    # Allowed failures (a create out of attempts under the injected faults) still say why.
    for failure in failures[:10]:
        print("failed: " + failure)
    for problem in problems[:50]:
        print("PROBLEM: " + problem)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more")
    return 1 if problems else 0


def classify(message):
    for needle, cause in (("stopped renewing its lease", "worker lost (lease expired)"), ("TooManyRequests", "API 429"),
                          ("ServiceUnavailable", "API 503"), ("InternalError", "API 500"), ("timed out", "timeout"),
                          ("another operation", "helm operation in progress"), ("transport", "connection"),
                          ("Postgres", "Postgres"), ("Redis", "Redis")):
        if needle in message:
            return cause
    return message[:60] or "unknown"


def release_overlaps(journal_path, kills_path):
    """helm operations on one release never overlap. An operation whose helm was killed with its worker
    ends at the kill."""
    killed = {}
    if kills_path and os.path.exists(kills_path):
        for line in open(kills_path):
            entry = json.loads(line)
            for pid in entry.get("pids", []):
                killed[pid] = entry["at"]
    operations = collections.defaultdict(list)
    starts = {}
    for line in open(journal_path):
        entry = json.loads(line)
        key = (entry["namespace"], entry["release"], entry["pid"])
        if entry["event"] == "start":
            starts[key] = entry["at"]
        elif key in starts:
            operations[key[:2]].append((starts.pop(key), entry["at"], entry["pid"]))
    problems = []
    for key, started in starts.items():
        end = killed.get(key[2])
        if end is None:
            problems.append(f"helm operation on {key[1]} (pid {key[2]}) never ended and was not killed")
            continue
        operations[key[:2]].append((started, end, key[2]))
    for release, spans in operations.items():
        spans.sort()
        for (s1, e1, p1), (s2, e2, p2) in zip(spans, spans[1:]):
            if s2 < e1 - 0.01:
                problems.append(f"release {release[1]}: helm pids {p1} and {p2} operated at once")
    return problems


def recoveries(kills_path, attempts_by_job):
    """For each attempt a kill interrupted: how long until the platform gave it back (the reaper's
    "stopped renewing its lease" ending, the goal being under 15 s), and until it ran again."""
    kills = [json.loads(line) for line in open(kills_path)]
    longest_requeue = longest_rerun = 0.0
    interrupted = rerun = 0
    for kill in kills:
        for attempts in attempts_by_job.values():
            for start, end, worker, step, message in attempts:
                if worker != kill["worker"] or not start <= kill["at"] <= end or "stopped renewing its lease" not in message:
                    continue
                interrupted += 1
                longest_requeue = max(longest_requeue, end - kill["at"])
                later = [s for s, e, w, st, m in attempts if st == step and s > kill["at"]]
                if later:
                    rerun += 1
                    longest_rerun = max(longest_rerun, min(later) - kill["at"])
    return {"kills": len(kills), "interrupted_attempts": interrupted, "rerun": rerun,
            "longest_recovery_s": round(longest_requeue, 1), "longest_until_rerun_s": round(longest_rerun, 1)}


def bench(args):
    """Creates N stores at once and reports stores per minute and the platform's own time per store:
    a job's run time (first claim to finish) minus the time inside helm (release) and waiting for the
    workloads (readiness)."""
    args.creates_only = True
    code = workload(args)
    report = json.load(open(args.report))
    overheads = []
    finished = []
    # Where a store's time goes: queued (created until first claimed), helm, and waiting for workloads.
    phases = {"queued": [], "release": [], "readiness": []}
    for job_id in report["jobs"]:
        job = call("GET", f"/api/jobs/{job_id}")
        if job["status"] != "succeeded":
            continue
        run = parse_time(job["finished_at"]) - parse_time(job["started_at"])
        durations = {step["name"]: step.get("duration_ms", 0) / 1000 for step in job["steps"]}
        overheads.append(run - durations.get("release", 0) - durations.get("readiness", 0))
        finished.append(parse_time(job["finished_at"]))
        phases["queued"].append(parse_time(job["started_at"]) - parse_time(job["created_at"]))
        phases["release"].append(durations.get("release", 0))
        phases["readiness"].append(durations.get("readiness", 0))
    overheads.sort()
    wall = (max(finished) if finished else report["ready_at"]) - report["started"]
    result = {
        "stores": len(report["stores"]), "succeeded": len(overheads), "seconds": round(wall, 1),
        "stores_per_minute": round(len(overheads) / wall * 60, 1) if wall > 0 else 0,
        "overhead_ms_median": round(overheads[len(overheads) // 2] * 1000) if overheads else None,
        "overhead_ms_p95": round(overheads[max(int(len(overheads) * 0.95) - 1, 0)] * 1000) if overheads else None,
    }
    for phase, values in phases.items():
        values.sort()
        result[phase + "_s_median"] = round(values[len(values) // 2], 2) if values else None
    print("bench: " + json.dumps(result, sort_keys=True))
    return code


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("workload")
    w.add_argument("--stores", type=int, required=True)
    w.add_argument("--report", required=True)
    w.add_argument("--deadline", type=float, default=600)
    w.add_argument("--creates-only", action="store_true")
    v = sub.add_parser("verify")
    v.add_argument("--report", required=True)
    v.add_argument("--journal")
    v.add_argument("--kills")
    v.add_argument("--all-succeed", action="store_true")
    b = sub.add_parser("bench")
    b.add_argument("--stores", type=int, required=True)
    b.add_argument("--report", required=True)
    b.add_argument("--deadline", type=float, default=1800)
    args = parser.parse_args()
    return {"workload": workload, "verify": verify, "bench": bench}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
