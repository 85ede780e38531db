"""Schemathesis hooks for scripts/api-fuzz.sh: two rules the OpenAPI document states in words because
JSON Schema cannot express them, applied to the generated requests that are meant to be valid, so that
the fuzzer tests everything else about those requests instead of tripping over these every time.

- An Idempotency-Key names one request: the server answers 422 when a key comes back with another
  request (the IETF draft's rule), and the fuzzer reuses header values freely. A key that is valid is
  replaced with a fresh valid one; invalid keys are sent as generated, to be refused.
- A token's expires_at must lie between a minute and five years ahead of now. A valid date-time is
  moved into that window; anything else is sent as generated.
"""

import os
import re
import uuid
from datetime import datetime, timedelta, timezone

import schemathesis
from hypothesis.internal import lambda_sources

# Hypothesis names a filter by parsing the source file its lambda sits in, for a repr only. On
# CPython 3.11, ast.parse of a long module from deep in a generator's stack can raise
# "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905 and kin), which
# schemathesis then reports as an error of whichever operation it was generating for: a failure of
# the tool, not of the API. The name falls back to the "unknown" form Hypothesis itself uses when
# it cannot find the source; the values generated are unchanged.
_describe_lambda = lambda_sources._lambda_description


def _lambda_description_or_unknown(f):
    try:
        return _describe_lambda(f)
    except (SystemError, RecursionError):
        return "lambda: <unknown>"


lambda_sources._lambda_description = _lambda_description_or_unknown

VALID_KEY = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers
    if headers:
        for name in list(headers):
            value = headers[name]
            if name.lower() == "idempotency-key" and isinstance(value, str) and len(value) <= 255 and VALID_KEY.match(value):
                headers[name] = "fuzz-" + uuid.uuid4().hex
    body = case.body
    if case.operation.path.endswith("/tokens") and case.method.upper() == "POST" and isinstance(body, dict):
        value = body.get("expires_at")
        if isinstance(value, str) and RFC3339.match(value):
            body["expires_at"] = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")


# The admin token the run authenticates with: revoking it (the fuzzer learns token IDs from the
# listings it reads) would turn the rest of the run into 401s that test nothing.
KEEP_TOKEN = os.environ.get("FUZZ_KEEP_TOKEN", "")


@schemathesis.hook("before_call")
def keep_the_runs_own_token(ctx, case, **kwargs):
    if KEEP_TOKEN and case.method.upper() == "DELETE" and case.path_parameters and case.path_parameters.get("token") == KEEP_TOKEN:
        case.path_parameters["token"] = str(uuid.uuid4())
