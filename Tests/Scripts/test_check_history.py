"""scripts/check-history.py against synthetic histories: a clean one passes, and each kind of broken
promise fails naming its check. Needs a Postgres (DATABASE_URL, as scripts/test.sh exports it): a scratch
database is made there with the migrations of Sources/Jobs/Migrations and Sources/Platform/Migrations and dropped afterwards."""
import os
import pathlib
import subprocess
import urllib.parse
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECKER = ROOT / "scripts" / "check-history.py"
# The engine's schema first, then the platform's, as Platform's Schema.migrate applies them.
MIGRATIONS = sorted((ROOT / "Sources" / "Jobs" / "Migrations").glob("*.sql")) + sorted((ROOT / "Sources" / "Platform" / "Migrations").glob("*.sql"))
DATABASE_URL = os.environ.get("DATABASE_URL")
REAPED = "worker w1 stopped renewing its lease (crashed or cut off); the step will run again"

pytestmark = pytest.mark.skipif(not DATABASE_URL, reason="DATABASE_URL is not set (scripts/test.sh sets it)")


def psql(url, sql, single_transaction=False):
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"] + (["-1"] if single_transaction else [])
    result = subprocess.run(args, input=sql, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def scratch():
    name = "check_history_" + uuid.uuid4().hex[:12]
    psql(DATABASE_URL, f"CREATE DATABASE {name}")
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(DATABASE_URL)._replace(path="/" + name))
    try:
        for migration in MIGRATIONS:
            psql(url, migration.read_text(), single_transaction=True)
        # As SyntheticJobs.prepare makes it.
        psql(url, """CREATE TABLE lab_step_runs (
            id bigserial PRIMARY KEY, job_id uuid NOT NULL, step text NOT NULL, attempt int NOT NULL,
            worker_id text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz, outcome text, epoch int)""")
        yield url
    finally:
        psql(DATABASE_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(scratch):
    psql(scratch, "TRUNCATE tenants, stores, jobs, job_steps, job_transitions, lab_step_runs CASCADE")
    return scratch


def lit(value):
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class History:
    """Builds SQL for stores, jobs and their transitions, in the order given (so in transition ID order)."""

    def __init__(self):
        self.tenant = str(uuid.uuid4())
        self.sql = [f"INSERT INTO tenants (id, name) VALUES ('{self.tenant}', 't-{self.tenant[:8]}');"]
        self.created = 0

    def store(self, status):
        store = str(uuid.uuid4())
        self.sql.append(f"INSERT INTO stores (id, tenant_id, name, engine, status, namespace) VALUES "
                        f"('{store}', '{self.tenant}', 's-{store[:8]}', 'medusa', '{status}', 'store-{store[:8]}');")
        return store

    def job(self, kind, status, epoch=0, store=None, run_at_ago=0, lease_in=None):
        """A job created after every earlier one; its 'queued' transition is written with it."""
        job = str(uuid.uuid4())
        self.created += 1
        lease = "NULL" if lease_in is None else f"now() + make_interval(secs => {lease_in})"
        self.sql.append(
            f"INSERT INTO jobs (id, kind, store_id, tenant_id, status, steps, epoch, run_at, lease_expires_at, created_at) VALUES "
            f"('{job}', '{kind}', {lit(store)}, '{self.tenant}', '{status}', ARRAY['one', 'two'], {epoch}, "
            f"now() - make_interval(secs => {run_at_ago}), {lease}, now() - make_interval(secs => {1000 - self.created}));")
        self.t(job, "queued")
        return job

    def t(self, job, status, step=None, epoch=None, message=None):
        position = None if step is None else {"one": 0, "two": 1}[step]
        self.sql.append(f"INSERT INTO job_transitions (job_id, step, position, attempt, status, epoch, message) VALUES "
                        f"('{job}', {lit(step)}, {lit(position)}, 1, '{status}', {lit(epoch)}, {lit(message)});")

    def steps(self, job, epoch, *steps, end="succeeded"):
        """A claim under `epoch` running `steps` to success, then the job ending `end` (None: not ended)."""
        self.t(job, "running", epoch=epoch)
        for step in steps:
            self.t(job, "running", step, epoch)
            self.t(job, "succeeded", step, epoch)
        if end:
            self.t(job, end, epoch=epoch)

    def lab_run(self, job, step, epoch, outcome):
        self.sql.append(f"INSERT INTO lab_step_runs (job_id, step, attempt, worker_id, started_at, outcome, epoch) VALUES "
                        f"('{job}', '{step}', 1, 'w1', now(), {lit(outcome)}, {epoch});")


def clean(h):
    """Every path the engine takes, recorded as the engine records it."""
    # A create whose first claim was reaped, then succeeded under the second.
    a = h.job("store.create", "succeeded", 2, store=h.store("ready"))
    h.t(a, "running", epoch=1)
    h.t(a, "running", "one", 1)
    h.t(a, "retrying", "one", 1, REAPED)
    h.steps(a, 2, "one", "two")
    # A create that failed, was retried on request from the first step, and succeeded: step "one"
    # succeeds once in each run.
    b = h.job("store.create", "succeeded", 2, store=h.store("ready"))
    h.steps(b, 1, "one", end=None)
    h.t(b, "running", "two", 1)
    h.t(b, "failed", "two", 1, "boom")
    h.t(b, "failed", epoch=1, message="boom")
    h.t(b, "queued", message="retried on request from step 1")
    h.steps(b, 2, "one", "two")
    # A create cancelled while waiting (no epoch), superseded by a delete that succeeded.
    store = h.store("deleted")
    c = h.job("store.create", "cancelled", store=store)
    h.t(c, "cancelled", message="superseded by delete job")
    h.steps(h.job("store.delete", "succeeded", 1, store=store), 1, "one", "two")
    # A create still running (cancel requested), and the delete waiting behind it for long: not stranded.
    store = h.store("deleting")
    d = h.job("store.create", "running", 1, store=store, lease_in=8)
    h.steps(d, 1, "one", end=None)
    h.t(d, "running", "two", 1)
    h.job("store.delete", "queued", store=store, run_at_ago=600)
    # A delete that failed: the store says failed.
    h.steps(h.job("store.delete", "failed", 1, store=h.store("failed")), 1, "one", end="failed")
    # A lab job whose first execution of "one" lost its claim after succeeding (superseded, allowed).
    e = h.job("lab.scripted", "succeeded", 2)
    h.t(e, "running", epoch=1)
    h.t(e, "running", "one", 1)
    h.lab_run(e, "one", 1, "succeeded")
    h.t(e, "retrying", "one", 1, REAPED)
    h.steps(e, 2, "one", "two")
    h.lab_run(e, "one", 2, "succeeded")
    h.lab_run(e, "two", 2, "succeeded")
    # A job just queued.
    h.job("lab.noop", "queued")
    return h


def run(url, *args):
    result = subprocess.run(["python3", str(CHECKER), "--database-url", url, *args], text=True, capture_output=True)
    return result.returncode, result.stdout.splitlines(), result.stderr


def test_clean_history_passes(db):
    h = clean(History())
    psql(db, "\n".join(h.sql))
    code, lines, stderr = run(db)
    assert code == 0, (lines, stderr)
    assert lines == ["check-history: jobs=9 transitions=55 stores=5 superseded_runs=1 violations=0"]


# Each case adds one broken history to the clean ones.
def two_terminals(h):
    j = h.job("lab.noop", "failed", 1)
    h.steps(j, 1, "one", end="failed")
    h.t(j, "succeeded", epoch=1)


def after_terminal(h):
    j = h.job("lab.noop", "succeeded", 1)
    h.steps(j, 1, "one", "two")
    h.t(j, "running", "one", 1)


def status_without_terminal(h):
    h.steps(h.job("lab.noop", "succeeded", 1), 1, "one", end=None)


def terminal_while_waiting(h):
    h.steps(h.job("lab.noop", "queued", 1), 1, "one", end="failed")


def no_queued(h):
    # The clean history's last transition is the queued lab.noop job's only one.
    h.sql.append("DELETE FROM job_transitions WHERE id = (SELECT max(id) FROM job_transitions);")


def step_twice(h):
    j = h.job("lab.noop", "succeeded", 2)
    h.steps(j, 1, "one", end=None)
    h.steps(j, 2, "one", "two")


def stale_write(h):
    # A zombie of claim 1 records a success after claim 2 took the job.
    j = h.job("lab.noop", "running", 2, lease_in=8)
    h.t(j, "running", epoch=1)
    h.t(j, "running", "one", 1)
    h.t(j, "retrying", "one", 1, REAPED)
    h.t(j, "running", epoch=2)
    h.t(j, "running", "one", 2)
    h.t(j, "succeeded", "one", 1)


def reused_epoch(h):
    j = h.job("lab.noop", "running", 1, lease_in=8)
    h.t(j, "running", epoch=1)
    h.t(j, "running", "one", 1)
    h.t(j, "retrying", "one", 1, REAPED)
    h.t(j, "running", epoch=1)


def unclaimed_epoch(h):
    j = h.job("lab.noop", "running", 2, lease_in=8)
    h.t(j, "running", epoch=1)
    h.t(j, "running", "one", 2)


def job_epoch_behind(h):
    h.steps(h.job("lab.noop", "succeeded", 1), 2, "one", "two")


def store_not_ready(h):
    h.steps(h.job("store.create", "succeeded", 1, store=h.store("provisioning")), 1, "one", "two")


def store_not_going(h):
    h.job("store.delete", "queued", store=h.store("ready"))


def waiting_too_long(h):
    h.job("lab.noop", "retrying", 1, run_at_ago=600)


def lease_not_reaped(h):
    j = h.job("lab.noop", "running", 1, lease_in=-600)
    h.t(j, "running", epoch=1)


def success_without_run(h):
    j = h.job("lab.scripted", "succeeded", 2)
    h.t(j, "running", epoch=1)
    h.t(j, "running", "one", 1)
    h.lab_run(j, "one", 1, "succeeded")
    h.t(j, "retrying", "one", 1, REAPED)
    h.steps(j, 2, "one", "two")
    h.lab_run(j, "two", 2, "succeeded")


@pytest.mark.parametrize("build, name", [
    (two_terminals, "lifecycle"), (after_terminal, "lifecycle"), (status_without_terminal, "lifecycle"),
    (terminal_while_waiting, "lifecycle"), (no_queued, "lifecycle"), (step_twice, "step-once"),
    (stale_write, "epoch"), (reused_epoch, "epoch"), (unclaimed_epoch, "epoch"), (job_epoch_behind, "epoch"),
    (store_not_ready, "store"), (store_not_going, "store"), (waiting_too_long, "stranded"),
    (lease_not_reaped, "stranded"), (success_without_run, "lab-runs"),
], ids=lambda value: getattr(value, "__name__", value))
def test_violation_is_named(db, build, name):
    h = clean(History())
    build(h)
    psql(db, "\n".join(h.sql))
    code, lines, stderr = run(db)
    assert code == 1, (lines, stderr)
    violations = [line for line in lines if line.startswith("violation: ")]
    assert violations and all(line.startswith(f"violation: {name}: job ") for line in violations), lines
    assert lines[-1].startswith("check-history: ") and lines[-1].endswith(f" violations={len(violations)}"), lines


def test_sweep_bound(db):
    h = clean(History())
    waiting_too_long(h)
    psql(db, "\n".join(h.sql))
    assert run(db, "--sweep-bound", "3600")[0] == 0


def test_unreachable_database_is_an_error():
    code, lines, stderr = run("postgres://nobody:none@127.0.0.1:1/none")
    assert code == 2 and "cannot read" in stderr
