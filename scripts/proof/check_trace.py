#!/usr/bin/env python3
"""Checks the span tree scripts/e2e-tracing.sh recorded (one JSON line per span, otlp_receiver.py).

    check_trace.py SPANS.jsonl TRACE_ID CALLER_SPAN_ID WORKER2_LOG

What must hold: the gateway's request span is the caller span's child; worker-1 (killed during
readiness) sent the step spans it finished, children of its run's span (which never ended, so was
never sent); worker-2's job span is the request span's child, with its step spans under it; step spans
record their attempt and outcome; Kubernetes API spans (verb, resource, namespace, status) from both
workers and helm spans are children of step spans; nothing that looks like a credential is in any
attribute; and worker-2's JSON log lines written inside the job carry the trace ID.
"""
import json
import re
import sys

spans_file, trace_id, caller, log_file = sys.argv[1:5]
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)
    return condition


spans = [json.loads(line) for line in open(spans_file) if line.strip()]
mine = [s for s in spans if s["trace_id"] == trace_id]
by_id = {s["span_id"]: s for s in mine}
print(f"check-trace: {len(spans)} spans received, {len(mine)} in trace {trace_id}")

requests = [s for s in mine if s["service"] == "storefleet-gateway" and s["kind"] == "SERVER"]
check(len(requests) == 1, f"one request span expected in the trace, found {[r['name'] for r in requests]}")
request = requests[0] if requests else None
if request:
    check(request["parent_span_id"] == caller, "the request span continues the caller's traceparent")
    check(request["name"] == "/api/stores", f"the request span is named for its route, not {request['name']!r}")
    check(request["attributes"].get("http.response.status_code") == 202, f"request span status: {request['attributes']}")
    check(request["attributes"].get("http.request.method") == "POST", "the request span records the method")

# A span is sent when it ends: the run of the worker killed mid-job never ended, so its job span is not
# here; the steps it finished are, children of that run's span ID. The second worker's run ended.
jobs = [s for s in mine if s["name"] == "job store.create"]
finished_run = [s for s in jobs if s["instance"] == "worker-2"]
check(len(finished_run) == 1, f"one job span from worker-2 expected, found {len(finished_run)}")
for job in jobs:
    check(job["kind"] == "CONSUMER", "job spans are consumer spans")
    check(request is not None and job["parent_span_id"] == request["span_id"], f"the job span of {job['instance']} is a child of the request span")
    check(job["service"] == "storefleet-worker", "job spans come from the worker service")
    check(job["attributes"].get("storefleet.worker") == job["instance"], "a job span names its worker")

steps = [s for s in mine if s["name"].startswith("step ")]
for step in steps:
    check("storefleet.step.attempt" in step["attributes"] and step["attributes"].get("storefleet.step.outcome") in ("succeeded", "failed"),
          f"step span {step['name']} records its attempt and outcome: {step['attributes']}")
first = [s for s in steps if s["instance"] == "worker-1"]
second = [s for s in steps if s["instance"] == "worker-2"]
check({"step namespace", "step guardrails", "step secrets", "step release"} <= {s["name"] for s in first},
      f"worker-1 ran the first steps: {sorted(s['name'] for s in first)}")
check({"step readiness", "step finalize"} <= {s["name"] for s in second},
      f"worker-2 ran readiness again and finished: {sorted(s['name'] for s in second)}")
first_runs = {s["parent_span_id"] for s in first}
check(len(first_runs) == 1 and "" not in first_runs, f"worker-1's steps are children of one run span: {first_runs}")
check(not (first_runs & {j["span_id"] for j in finished_run}), "worker-1's steps are not in worker-2's run")
for step in second:
    check(finished_run and step["parent_span_id"] == finished_run[0]["span_id"], f"{step['name']} on worker-2 is a child of its job span")

kube = [s for s in mine if s["name"].startswith("k8s ")]
check(len(kube) > 0, "Kubernetes API spans expected")
def under_step(span):
    """Its parent is a step span; or, for the killed worker, the step it was killed in (never sent)."""
    parent = by_id.get(span["parent_span_id"])
    if parent is None:
        return span["instance"] == "worker-1" and span["parent_span_id"] not in first_runs
    return parent["name"].startswith("step ") and parent["instance"] == span["instance"]


for call in kube:
    check(under_step(call), f"{call['name']} on {call['instance']} is a child of a step span")
    attrs = call["attributes"]
    check(call["kind"] == "CLIENT" and {"k8s.verb", "k8s.resource", "http.request.method"} <= set(attrs), f"{call['name']} attributes: {attrs}")
    check("http.response.status_code" in attrs or call["status"] == "ERROR", f"{call['name']} records the answer")
check({c["instance"] for c in kube} >= {"worker-1", "worker-2"}, "Kubernetes API spans from both workers")
check(any(c["attributes"].get("k8s.namespace.name") == "store-traced" for c in kube), "calls in the store's namespace name it")
helm = [s for s in mine if s["name"].startswith("helm ")]
check(any(h["attributes"].get("helm.command") == "upgrade" and h["attributes"].get("helm.release") for h in helm),
      f"a helm upgrade span with its release expected: {[h['attributes'] for h in helm]}")
for run in helm:
    check(under_step(run), f"{run['name']} is a child of a step span")
check(any(by_id.get(c["parent_span_id"], {}).get("name") == "step readiness" for c in kube if c["instance"] == "worker-2"),
      "worker-2's readiness calls are children of its readiness step")

# Credentials never: no bearer token, API key or password in a value, no Authorization header recorded.
secret_value = re.compile(r"(?i)bearer\s+\S|sfk_[A-Za-z0-9]|password")
for span in spans:
    for key, value in span["attributes"].items():
        check(not secret_value.search(str(value)) and "authorization" not in key.lower() and "password" not in key.lower(),
              f"span {span['name']} carries {key}={str(value)[:80]}")

logged = 0
for line in open(log_file):
    try:
        record = json.loads(line)
    except ValueError:
        continue
    if record.get("metadata", record).get("job") or record.get("job"):
        fields = record.get("metadata", record)
        if fields.get("trace_id") == trace_id:
            logged += 1
check(logged > 0, "worker-2's JSON log lines inside the job carry the trace_id")

for p in problems:
    print("check-trace: " + p, file=sys.stderr)
print(f"check-trace: {len(jobs)} job, {len(steps)} step, {len(kube)} Kubernetes and {len(helm)} helm spans; "
      f"{logged} log lines with the trace ID; {len(problems)} problems")
sys.exit(1 if problems else 0)
