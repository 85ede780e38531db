#!/usr/bin/env python3
"""Writes Storefleet's Grafana dashboards (charts/platform/files/observability/dashboards/*.json).

The JSON is generated so that the three boards share one panel style and stay small to review; the
generated files are committed (the chart and people without Helm read them as they are).
    scripts/gen-dashboards.py          # rewrite the files
    scripts/gen-dashboards.py --check  # exit 1 if a committed file differs from what this writes
Every metric a panel names must be one the gateway or the worker exports: scripts/check-metrics.py
checks that against a live /metrics (scripts/e2e.sh).
"""
import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parents[1] / "charts" / "platform" / "files" / "observability" / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
# The event stream is long-lived by design; latency panels leave it out.
NOT_EVENTS = 'route!="/api/events"'


def target(expr, legend, ref):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def panel(kind, title, targets, unit, x, y, w=12, h=8, description="", **extra):
    p = {
        "type": kind, "title": title, "description": description, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    p.update(extra)
    return p


def dashboard(uid, title, description, panels):
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["storefleet"], "timezone": "browser", "schemaVersion": 39, "version": 1,
        "editable": True, "graphTooltip": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "options": [],
        }]},
        "annotations": {"list": []},
        "links": [{"title": "Storefleet boards", "type": "dashboards", "tags": ["storefleet"], "asDropdown": True}],
        "panels": panels,
    }


def quantile(q, metric, by, selector=""):
    sel = "{" + selector + "}" if selector else ""
    return f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({metric}_bucket{sel}[$__rate_interval])))"


FLEET = dashboard("storefleet-fleet", "Storefleet / Fleet overview",
                  "Stores by status, how many are created, how many succeed, and how long a store takes to sell.", [
    panel("stat", "Ready stores", [('sum(max by (engine, status) (storefleet_stores{status="ready"}))', "ready")], "none", 0, 0, 6, 5),
    panel("stat", "Failed stores", [('sum(max by (engine, status) (storefleet_stores{status="failed"})) or vector(0)', "failed")], "none", 6, 0, 6, 5),
    panel("stat", "Create success rate (1h)", [(
        'sum(increase(storefleet_jobs_finished_total{kind="store.create",status="succeeded"}[1h]))'
        ' / sum(increase(storefleet_jobs_finished_total{kind="store.create"}[1h]))', "success")], "percentunit", 12, 0, 6, 5),
    panel("stat", "Time to ready p95 (1h)", [(
        'histogram_quantile(0.95, sum by (le) (increase(storefleet_job_duration_seconds_bucket{kind="store.create",status="succeeded"}[1h])))',
        "p95")], "s", 18, 0, 6, 5),
    panel("timeseries", "Stores by status", [("sum by (status) (max by (engine, status) (storefleet_stores))", "{{status}}")],
          "none", 0, 5, description="Stores not deleted, by status (provisioning, ready, updating, suspended, failed, deleting)."),
    panel("timeseries", "Stores by engine", [("sum by (engine) (max by (engine, status) (storefleet_stores))", "{{engine}}")], "none", 12, 5),
    panel("timeseries", "Creates per minute", [
        ('sum(rate(storefleet_http_requests_total{method="POST",route="/api/stores",status="202"}[$__rate_interval])) * 60', "accepted"),
        ('sum by (status) (rate(storefleet_jobs_finished_total{kind="store.create"}[$__rate_interval])) * 60', "finished {{status}}"),
    ], "none", 0, 13, description="Creates the API accepted, and create jobs that ended, per minute."),
    panel("timeseries", "Create success rate", [(
        'sum(rate(storefleet_jobs_finished_total{kind="store.create",status="succeeded"}[15m]))'
        ' / sum(rate(storefleet_jobs_finished_total{kind="store.create"}[15m]))', "success (15m)")], "percentunit", 12, 13),
    panel("timeseries", "Time to ready (create jobs that succeeded)", [
        (quantile(0.5, "storefleet_job_duration_seconds", "", 'kind="store.create",status="succeeded"'), "p50"),
        (quantile(0.95, "storefleet_job_duration_seconds", "", 'kind="store.create",status="succeeded"'), "p95"),
    ], "s", 0, 21, description="From the API's 202 to the store selling: queue time, every step and retry included."),
    panel("timeseries", "Jobs finished by kind and status", [
        ("sum by (kind, status) (rate(storefleet_jobs_finished_total[$__rate_interval])) * 60", "{{kind}} {{status}}")], "none", 12, 21),
])

ENGINE = dashboard("storefleet-engine", "Storefleet / Job engine",
                   "The queue, how fast workers pick jobs up, where steps spend their time, retries, reaps, and the calls steps make.", [
    panel("timeseries", "Queue", [("max(storefleet_queue_depth)", "waiting in Redis"),
                                  ('max(storefleet_jobs{status="running"})', "running")], "none", 0, 0, 8),
    panel("timeseries", "Oldest waiting job", [("max(storefleet_oldest_waiting_job_age_seconds)", "age")], "s", 8, 0, 8),
    panel("timeseries", "Pickup latency", [
        (quantile(0.5, "storefleet_job_pickup_delay_seconds", ""), "p50"),
        (quantile(0.95, "storefleet_job_pickup_delay_seconds", ""), "p95")], "s", 16, 0, 8,
        description="From a job's due time to a worker's claim."),
    panel("timeseries", "Step duration p95 by step", [
        (quantile(0.95, "storefleet_step_duration_seconds", "kind, step", 'outcome="succeeded"'), "{{kind}} {{step}}")], "s", 0, 8),
    panel("timeseries", "Step duration p50 by step", [
        (quantile(0.5, "storefleet_step_duration_seconds", "kind, step", 'outcome="succeeded"'), "{{kind}} {{step}}")], "s", 12, 8),
    panel("timeseries", "Retries by cause", [
        ("sum by (cause) (rate(storefleet_step_retries_total[$__rate_interval])) * 60", "{{cause}}")], "none", 0, 16,
        description="Retries scheduled per minute, by the failed attempt's cause."),
    panel("timeseries", "Failed attempts by step and cause", [
        ("sum by (step, cause) (rate(storefleet_step_failures_total[$__rate_interval])) * 60", "{{step}} {{cause}}")], "none", 12, 16),
    panel("timeseries", "Reaps and sweeps", [
        ("sum(increase(storefleet_leases_reaped_total[$__rate_interval]))", "leases reaped"),
        ("sum(increase(storefleet_jobs_swept_total[$__rate_interval]))", "jobs re-dispatched")], "none", 0, 24, 8,
        description="Reaps: a worker died or stalled mid-job. Sweeps: Redis had lost a job ID."),
    panel("timeseries", "Workers", [("max(storefleet_live_workers)", "live workers"),
                                    ("sum(storefleet_worker_running_jobs)", "jobs running"),
                                    ("sum(storefleet_worker_helm_processes)", "helm processes")], "none", 8, 24, 8),
    panel("timeseries", "helm p95 by command", [
        (quantile(0.95, "storefleet_helm_duration_seconds", "command"), "{{command}}")], "s", 16, 24, 8),
    panel("timeseries", "Kubernetes API calls by verb and status", [
        ("sum by (verb, code) (rate(storefleet_kube_requests_total[$__rate_interval]))", "{{verb}} {{code}}")], "reqps", 0, 32),
    panel("timeseries", "Kubernetes API latency p95 by verb", [
        (quantile(0.95, "storefleet_kube_request_duration_seconds", "verb"), "{{verb}}")], "s", 12, 32),
])

GATEWAY = dashboard("storefleet-gateway", "Storefleet / Gateway",
                    "The API's traffic, errors and latency by route, and what the edge refused.", [
    panel("timeseries", "Requests by route", [
        ("sum by (method, route) (rate(storefleet_http_requests_total[$__rate_interval]))", "{{method}} {{route}}")], "reqps", 0, 0),
    panel("timeseries", "Requests by status", [
        ("sum by (status) (rate(storefleet_http_requests_total[$__rate_interval]))", "{{status}}")], "reqps", 12, 0),
    panel("timeseries", "5xx ratio", [
        ('sum(rate(storefleet_http_requests_total{status=~"5.."}[$__rate_interval])) / sum(rate(storefleet_http_requests_total[$__rate_interval]))',
         "5xx")], "percentunit", 0, 8, 8),
    panel("timeseries", "Latency p50 / p99 (all routes but the event stream)", [
        (quantile(0.5, "storefleet_http_request_duration_seconds", "", NOT_EVENTS), "p50"),
        (quantile(0.99, "storefleet_http_request_duration_seconds", "", NOT_EVENTS), "p99")], "s", 8, 8, 16),
    panel("timeseries", "Latency p99 by route", [
        (quantile(0.99, "storefleet_http_request_duration_seconds", "method, route", NOT_EVENTS), "{{method}} {{route}}")], "s", 0, 16),
    panel("timeseries", "Refused at the edge and left early", [
        ("sum by (reason) (rate(storefleet_http_edge_refusals_total[$__rate_interval])) * 60", "refused: {{reason}}"),
        ("sum by (route) (rate(storefleet_http_client_aborts_total[$__rate_interval])) * 60", "client left: {{route}}")], "none", 12, 16,
        description="Per minute: connections refused before routing (slow headers, oversized or malformed requests) and responses whose client left."),
])

BOARDS = {"fleet.json": FLEET, "engine.json": ENGINE, "gateway.json": GATEWAY}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    OUT.mkdir(parents=True, exist_ok=True)
    for name, board in BOARDS.items():
        text = json.dumps(board, indent=2, sort_keys=True) + "\n"
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("gen-dashboards: out of date (run scripts/gen-dashboards.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
