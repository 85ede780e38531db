#!/usr/bin/env python3
"""Checks the job engine's recorded history in Postgres against the engine's invariants.

    check-history.py [--database-url URL] [--sweep-bound SECONDS]

Reads DATABASE_URL (or --database-url) with the psql client, all in one read-only REPEATABLE READ
transaction, so that jobs, transitions and stores are one consistent snapshot. A job's history is ordered
by job_transitions.id: every write of a job's transitions locks the job's row first, so within one job
the IDs are in commit order. Checks:

  lifecycle  the history starts with the job's 'queued'; in each run segment (split at each later
             job-level 'queued', a retry request) there is at most one terminal transition and nothing
             follows it; the last segment ends in the job's status if it is terminal, and has no terminal
             transition otherwise
  step-once  no step succeeds twice within one segment
  epoch      epochs never go back; each claim takes an epoch above every earlier one; every other
             transition with an epoch carries the latest claim's; jobs.epoch is the history's highest
  store      a store whose latest job finished agrees with it (create: ready/failed; delete:
             deleted/failed; update: ready, or ready/failed when it failed; suspend: suspended/failed;
             resume: ready/failed); one whose latest job has not finished is provisioning, deleting,
             updating, suspending or resuming
  stranded   no job waits (queued/retrying) longer than --sweep-bound past its run_at unless another job
             of its store goes first, and no lease expired longer than that ago is left unreaped
  lab-runs   if lab_step_runs has an epoch column: every recorded success of a lab job's step was
             produced by an execution under the same claim (lab jobs that record runs only); executions
             whose claim recorded no outcome of its own (reaped, fenced out) are counted as
             superseded_runs=N, not refused: delivery is at least once

Prints up to 30 lines "violation: CHECK: job ID: WHAT", then as its last line
"check-history: jobs=N transitions=M ... violations=K". Exits 1 on violations, 2 if it cannot read.
"""
import argparse
import collections
import csv
import os
import subprocess
import sys

TERMINAL = {"succeeded", "failed", "cancelled"}
# A store's status once its latest job of each kind has succeeded, while it runs, and once it failed
# (an update that was rolled back leaves its store ready on the previous revision).
STORE_KINDS = {
    "store.create": ("ready", "provisioning", {"failed"}),
    "store.delete": ("deleted", "deleting", {"failed"}),
    "store.update": ("ready", "updating", {"ready", "failed"}),
    "store.suspend": ("suspended", "suspending", {"failed"}),
    "store.resume": ("ready", "resuming", {"failed"}),
}
# The reaper's message for a step whose claim stopped renewing (JobStore.reapExpiredLeases).
REAPED = "stopped renewing its lease"
SHOWN = 30


class ReadError(Exception):
    pass


def psql(url, script):
    """Runs a script with psql; returns its rows (CSV from COPY ... TO STDOUT)."""
    try:
        result = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"],
            input=script, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "10")},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReadError(f"psql: {error}") from None
    if result.returncode != 0:
        raise ReadError(result.stderr.strip() or f"psql exited {result.returncode}")
    return list(csv.reader(result.stdout.splitlines()))


def copy(tag, query):
    # Each result set's rows start with a tag so that several COPYs can share one psql run (one snapshot).
    return f"COPY (SELECT '{tag}', q.* FROM ({query}) q) TO STDOUT WITH (FORMAT csv);\n"


def read(url, bound):
    has_lab = psql(url, copy("L", """
        SELECT count(*) FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'lab_step_runs' AND column_name = 'epoch'"""))[0][1] == "1"
    # The engine alone (its tests, a reuser) has no stores table: the store checks apply where there is one.
    has_stores = psql(url, copy("L", """
        SELECT count(*) FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name = 'stores'"""))[0][1] == "1"
    script = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
    # stranded: waiting past the bound while nothing of its store goes first (job_claim's 'busy' rule),
    # or running on a lease that ended more than the bound ago.
    script += copy("J", f"""
        SELECT j.id, j.kind, j.status, j.epoch,
               (j.status IN ('queued', 'retrying') AND j.run_at < now() - make_interval(secs => {bound})
                AND NOT EXISTS (SELECT 1 FROM jobs o WHERE j.store_id IS NOT NULL AND o.store_id = j.store_id AND o.id <> j.id
                                  AND (o.status = 'running' OR (o.status IN ('queued', 'retrying') AND o.created_at < j.created_at))))::int,
               (j.status = 'running' AND j.lease_expires_at < now() - make_interval(secs => {bound}))::int,
               extract(epoch FROM now() - CASE WHEN j.status = 'running' THEN j.lease_expires_at ELSE j.run_at END)::int
        FROM jobs j""")
    script += copy("T", f"""
        SELECT job_id, id, step IS NULL, coalesce(step, ''), coalesce(position, -1), status, coalesce(epoch::text, ''),
               (coalesce(message, '') LIKE '%{REAPED}%')::int
        FROM job_transitions ORDER BY job_id, id""")
    if has_stores:
        script += copy("S", """
            SELECT s.id, s.status, l.id, l.kind, l.status FROM stores s
            JOIN LATERAL (SELECT id, kind, status FROM jobs WHERE store_id = s.id ORDER BY created_at DESC, id DESC LIMIT 1) l ON true""")
    if has_lab:
        script += copy("R", """
            SELECT job_id, step, epoch, coalesce(outcome, ''), count(*) FROM lab_step_runs
            WHERE epoch IS NOT NULL GROUP BY 1, 2, 3, 4""")
    script += "COMMIT;\n"
    rows = collections.defaultdict(list)
    for row in psql(url, script):
        rows[row[0]].append(row[1:])
    return rows, has_lab


def check(rows, has_lab):
    violations = []
    info = {}

    def violation(name, job, what):
        violations.append(f"violation: {name}: job {job}: {what}")

    jobs = {r[0]: {"kind": r[1], "status": r[2], "epoch": int(r[3]), "waiting": r[4] == "1", "unreaped": r[5] == "1",
                   "age": r[6]} for r in rows["J"]}
    history = collections.defaultdict(list)
    for job, tid, job_level, step, position, status, epoch, reaped in rows["T"]:
        history[job].append({"id": int(tid), "job_level": job_level == "t", "step": step, "position": int(position),
                             "status": status, "epoch": int(epoch) if epoch else None, "reaped": reaped == "1"})

    for job_id, job in jobs.items():
        transitions = history.get(job_id, [])
        # 1. lifecycle, and 2. step-once, per run segment.
        if not transitions or not (transitions[0]["job_level"] and transitions[0]["status"] == "queued"):
            violation("lifecycle", job_id, "history does not start with the job's 'queued'")
        segments = [[]]
        for t in transitions:
            if t["job_level"] and t["status"] == "queued" and t is not transitions[0]:
                segments.append([])
            segments[-1].append(t)
        for number, segment in enumerate(segments, 1):
            terminal = None
            succeeded = collections.Counter()
            for t in segment:
                if terminal is not None:
                    violation("lifecycle", job_id, f"transition {t['id']} ({t['step'] or 'job'} {t['status']}) after the "
                                                   f"terminal '{terminal['status']}' (transition {terminal['id']}) in run {number}")
                    break
                if t["job_level"] and t["status"] in TERMINAL:
                    terminal = t
                if not t["job_level"] and t["status"] == "succeeded":
                    succeeded[t["position"]] += 1
            for position, count in succeeded.items():
                if count > 1:
                    violation("step-once", job_id, f"step {position} succeeded {count} times in run {number}")
        last = [t["status"] for t in segments[-1] if t["job_level"] and t["status"] in TERMINAL]
        if job["status"] in TERMINAL and last[:1] != [job["status"]]:
            violation("lifecycle", job_id, f"job is {job['status']} but its last run ended {last or 'nowhere'}")
        elif job["status"] not in TERMINAL and last:
            violation("lifecycle", job_id, f"job is {job['status']} but its last run ended {last[0]}")

        # 3. epoch order: a claim (job-level 'running') takes a new, higher epoch; everything else with an
        # epoch was written under the latest claim (the reaper writes the lost claim's epoch, which is it).
        highest = claim = None
        for t in transitions:
            epoch = t["epoch"]
            if epoch is None:
                continue
            if highest is not None and epoch < highest:
                violation("epoch", job_id, f"transition {t['id']} ({t['step'] or 'job'} {t['status']}) has epoch {epoch} "
                                           f"after epoch {highest}")
            elif t["job_level"] and t["status"] == "running":
                if highest is not None and epoch == highest:
                    violation("epoch", job_id, f"claim {t['id']} reuses epoch {epoch}")
                claim = epoch
            elif epoch != claim:
                violation("epoch", job_id, f"transition {t['id']} ({t['step'] or 'job'} {t['status']}) has epoch {epoch} "
                                           f"but the latest claim before it has {claim}")
            highest = epoch if highest is None else max(highest, epoch)
        if highest is not None and job["epoch"] != highest:
            violation("epoch", job_id, f"jobs.epoch is {job['epoch']} but its history reaches epoch {highest}")

        # 5. stranded
        if job["waiting"]:
            violation("stranded", job_id, f"{job['status']} for {job['age']}s past its run_at with nothing ahead of it")
        if job["unreaped"]:
            violation("stranded", job_id, f"running on a lease that ended {job['age']}s ago")

    # 4. store agreement with the store's latest job.
    for store_id, store_status, job_id, kind, job_status in rows["S"]:
        if kind not in STORE_KINDS or job_status == "cancelled":
            continue
        done, going, failed = STORE_KINDS[kind]
        wanted = {"succeeded": {done}, "failed": failed}.get(job_status, {going})
        if store_status not in wanted:
            violation("store", job_id, f"store {store_id} is {store_status} but its latest job ({kind}) is {job_status}")

    # 6. lab runs: each recorded success of a lab job's step has an execution of that step, under that
    # claim, that succeeded. Jobs without any recorded run are skipped (lab.noop records none, nor does
    # the benchmark). Executions whose claim recorded no outcome of its own (reaped or fenced out) are
    # counted, not refused: delivery is at least once.
    if has_lab:
        runs = collections.Counter()
        recorded = set()
        for job_id, step, epoch, outcome, count in rows["R"]:
            runs[(job_id, step, int(epoch), outcome)] += int(count)
        with_runs = {key[0] for key in runs}
        for job_id, transitions in history.items():
            if job_id not in with_runs or not jobs.get(job_id, {}).get("kind", "").startswith("lab."):
                continue
            for t in transitions:
                if t["job_level"] or t["epoch"] is None or t["status"] == "running":
                    continue
                if not t["reaped"]:
                    recorded.add((job_id, t["step"], t["epoch"]))
                if t["status"] == "succeeded" and not runs[(job_id, t["step"], t["epoch"], "succeeded")]:
                    violation("lab-runs", job_id, f"step {t['step']} succeeded under epoch {t['epoch']} (transition {t['id']}) "
                                                  "with no succeeded execution under that epoch")
        info["superseded_runs"] = sum(n for (job_id, step, epoch, _), n in runs.items()
                                      if job_id in jobs and (job_id, step, epoch) not in recorded)
    return violations, info, len(jobs), sum(len(h) for h in history.values()), len(rows["S"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--sweep-bound", type=float, default=60.0,
                        help="seconds a due job may wait, or an ended lease stay unreaped (default 60)")
    args = parser.parse_args()
    if not args.database_url:
        print("check-history: set DATABASE_URL or pass --database-url", file=sys.stderr)
        return 2
    try:
        rows, has_lab = read(args.database_url, args.sweep_bound)
    except ReadError as error:
        print(f"check-history: cannot read the history: {error}", file=sys.stderr)
        return 2
    violations, info, jobs, transitions, stores = check(rows, has_lab)
    for line in violations[:SHOWN]:
        print(line)
    if len(violations) > SHOWN:
        print(f"check-history: {len(violations) - SHOWN} more violations not shown")
    extra = "".join(f" {key}={value}" for key, value in info.items())
    print(f"check-history: jobs={jobs} transitions={transitions} stores={stores}{extra} violations={len(violations)}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
