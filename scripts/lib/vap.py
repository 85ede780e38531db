"""Evaluates a ValidatingAdmissionPolicy against an admission request, with cel-python, the way the
API server does: match constraints (resource rules, operations), match conditions, variables, then every validation in order; the first that is false (or errors, with failurePolicy
Fail) denies with its message.

Used by Tests/Scripts/test_admission_policy.py on the chart's rendered policy, and by kube-sim
(`kube-sim --admission-evaluator URL`) through `python3 vap.py serve PORT`: one JSON object per POST,
{"policies": [...], "bindings": [...], "attributes": {...}}, answered {"allowed": bool, "message": str,
"reason": str}.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import celpy


def _variables(env, definitions, activation):
    """`variables.<name>`, in order, each seeing those before it. The API server evaluates them lazily;
    here each is evaluated once up front and an error is kept as a value, which has the same effect:
    it denies only where a validation reads it (namespaceLabels on a cluster-scoped request, say)."""
    values = {}
    for definition in definitions:
        activation["variables"] = celpy.celtypes.MapType(values)
        try:
            value = _evaluate(env, definition["expression"], activation)
        except Exception as error:
            value = celpy.CELEvalError(str(error))
        values[celpy.celtypes.StringType(definition["name"])] = value
    return celpy.celtypes.MapType(values)


_PROGRAMS = {}
_PROGRAMS_LOCK = threading.Lock()


def _evaluate(env, expression, activation):
    # Parsing is the slow part of cel-python (milliseconds per expression); a policy's expressions
    # are few and fixed, so each is compiled once.
    with _PROGRAMS_LOCK:
        program = _PROGRAMS.get(expression)
    if program is None:
        program = env.program(env.compile(expression))
        with _PROGRAMS_LOCK:
            _PROGRAMS[expression] = program
    return program.evaluate(activation)


def _matches_rules(policy, attributes):
    request = attributes["request"]
    resource = request["resource"]
    wanted = resource["resource"] + ("/" + request["subResource"] if request.get("subResource") else "")
    for rule in policy["spec"].get("matchConstraints", {}).get("resourceRules", []):
        groups, versions, resources = rule.get("apiGroups", []), rule.get("apiVersions", []), rule.get("resources", [])
        operations = rule.get("operations", [])
        if not ("*" in groups or resource["group"] in groups):
            continue
        if not ("*" in versions or resource["version"] in versions):
            continue
        if not ("*" in operations or request["operation"] in operations):
            continue
        if request.get("subResource"):
            ok = "*/*" in resources or wanted in resources or f"{resource['resource']}/*" in resources \
                or f"*/{request['subResource']}" in resources
        else:
            ok = "*" in resources or wanted in resources
        if ok:
            return True
    return False


def evaluate(policy, attributes):
    """(allowed, message, reason) of one policy for one request. `attributes` holds request, object,
    oldObject and namespaceObject as the API server gives them to CEL (None where absent)."""
    if not _matches_rules(policy, attributes):
        return True, "", ""
    env = celpy.Environment()
    activation = {name: celpy.json_to_cel(attributes.get(name)) for name in ("request", "object", "oldObject", "namespaceObject")}
    fail_closed = policy["spec"].get("failurePolicy", "Fail") == "Fail"
    for condition in policy["spec"].get("matchConditions", []):
        try:
            if not bool(_evaluate(env, condition["expression"], activation)):
                return True, "", ""
        except Exception as error:
            if fail_closed:
                return False, f"matchCondition {condition['name']} failed: {error}", "Forbidden"
            return True, "", ""
    activation["variables"] = _variables(env, policy["spec"].get("variables", []), activation)
    name = policy["metadata"]["name"]
    for validation in policy["spec"].get("validations", []):
        try:
            ok = _evaluate(env, validation["expression"], activation)
            if isinstance(ok, celpy.CELEvalError):
                raise ok
            ok = bool(ok)
        except Exception as error:
            if fail_closed:
                return False, f"ValidatingAdmissionPolicy '{name}' denied request: expression '{validation['expression']}' resulted in error: {error}", "Forbidden"
            continue
        if not ok:
            message = validation.get("message") or f"failed expression: {validation['expression']}"
            return False, f"ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request: {message}", validation.get("reason", "Invalid")
    return True, "", ""


def decide(policies, bindings, attributes):
    """Every bound policy, as the API server applies them: the first denial wins.
    (allowed, message, reason)."""
    bound = {b["spec"]["policyName"] for b in bindings if "Deny" in b["spec"].get("validationActions", [])}
    for policy in policies:
        if policy["metadata"]["name"] not in bound:
            continue
        allowed, message, reason = evaluate(policy, attributes)
        if not allowed:
            return False, message, reason
    return True, "", ""


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        allowed, message, reason = decide(body["policies"], body["bindings"], body["attributes"])
        answer = json.dumps({"allowed": allowed, "message": message, "reason": reason}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), _Handler)
        server.daemon_threads = True
        print(server.server_address[1], flush=True)
        if "--exit-with-stdin" in sys.argv:
            # Ends with its caller: standard input is the caller's pipe, closed when it exits.
            threading.Thread(target=server.serve_forever, daemon=True).start()
            sys.stdin.buffer.read()
        else:
            server.serve_forever()
    else:
        print("usage: vap.py serve PORT [--exit-with-stdin] (0 picks a free port and prints it)", file=sys.stderr)
        sys.exit(2)
