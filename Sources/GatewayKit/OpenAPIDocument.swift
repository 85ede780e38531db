import Foundation
import Hummingbird
import Platform

/// The OpenAPI 3.1 description of the API, served at `/openapi.json`. It is written by hand next to the
/// code; `OpenAPIConformanceTests` fails when a route is missing from it (or it lists a route that does
/// not exist) and checks every response the test walk receives against the schema documented for it.
public enum OpenAPIDocument {
    private static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    private static func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
        ["type": "object", "properties": properties, "required": required, "additionalProperties": false]
    }
    private static var string: [String: Any] { ["type": "string"] }
    private static var uuid: [String: Any] { ["type": "string", "format": "uuid"] }
    private static var time: [String: Any] { ["type": "string", "format": "date-time"] }
    private static var integer: [String: Any] { ["type": "integer"] }
    private static var number: [String: Any] { ["type": "number"] }
    private static var boolean: [String: Any] { ["type": "boolean"] }
    private static func array(_ items: [String: Any]) -> [String: Any] { ["type": "array", "items": items] }
    private static func enumeration(_ values: [String]) -> [String: Any] { ["type": "string", "enum": values] }

    private static func json(_ schema: String, _ description: String, headers: [String: Any]? = nil) -> [String: Any] {
        var response: [String: Any] = ["description": description, "content": ["application/json": ["schema": ref(schema)]]]
        if let headers { response["headers"] = headers }
        return response
    }
    private static func problem(_ description: String) -> [String: Any] {
        ["description": description, "content": ["application/problem+json": ["schema": ref("Problem")]]]
    }
    private static func text(_ type: String, _ description: String) -> [String: Any] {
        ["description": description, "content": [type: ["schema": string]]]
    }
    private static var location: [String: Any] { ["Location": ["description": "the job to poll", "schema": string]] }
    private static var unauthorized: [String: Any] { problem("missing, unknown or revoked token") }
    private static var notFound: [String: Any] { problem("no such resource, or it belongs to another tenant") }

    private static func operation(_ summary: String, secured: Bool = true, parameters: [[String: Any]] = [], body: String? = nil, bodyRequired: Bool = true,
                                  _ responses: [String: Any]) -> [String: Any] {
        var responses = responses
        // Any route: a path whose parameters hold control bytes or invalid UTF-8 once decoded.
        if responses["400"] == nil { responses["400"] = problem("malformed request (a path holding a control byte or invalid UTF-8)") }
        var op: [String: Any] = ["summary": summary, "responses": responses]
        if !secured { op["security"] = [[String: Any]]() }
        if !parameters.isEmpty { op["parameters"] = parameters }
        if let body { op["requestBody"] = ["required": bodyRequired, "content": ["application/json": ["schema": ref(body)]]] }
        return op
    }
    private static func path(_ name: String) -> [String: Any] { ["name": name, "in": "path", "required": true, "schema": uuid] }
    private static func query(_ name: String, _ schema: [String: Any], required: Bool = false) -> [String: Any] {
        ["name": name, "in": "query", "required": required, "schema": schema]
    }
    private static func header(_ name: String) -> [String: Any] { ["name": name, "in": "header", "required": false, "schema": string] }
    /// Printable ASCII, 1 to 255 characters; HTTP strips spaces at either end, so none are there.
    private static var idempotencyKey: [String: Any] {
        ["name": "Idempotency-Key", "in": "header", "required": false,
         "schema": ["type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$"]]
    }
    private static var pageLimit: [String: Any] { query("limit", ["type": "integer", "minimum": 1, "maximum": 200]) }
    private static var mutatingErrors: [String: Any] { [
        "400": problem("malformed JSON or Idempotency-Key"), "401": unauthorized, "409": problem("conflict (name taken, store limit, request with this key in flight, wrong state)"),
        "408": problem("the body did not arrive within GATEWAY_BODY_TIMEOUT"), "413": problem("body over 16 KiB"), "415": problem("not application/json"),
        "422": problem("invalid fields, or Idempotency-Key reused with another request"), "429": problem("rate limited; see Retry-After"),
    ] }

    /// `plans`: the plan names this gateway offers (its PLANS_FILE), the only values a plan field takes.
    public static func dictionary(plans: [String] = PlanCatalog.builtIn().plans.keys.sorted()) -> [String: Any] {
        let storeStatus = enumeration(StoreRules.statuses)
        let planName = enumeration(plans)
        let chartVersion: [String: Any] = ["type": "string", "maxLength": 64, "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.+-]*)?$"]
        let appVersion: [String: Any] = ["type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"]
        let allowedPlans: [String: Any] = ["type": ["array", "null"], "items": planName, "uniqueItems": true,
                                           "description": "the plans the tenant's stores may use; null: every plan"]
        let spec = object(["plan": string, "chart_version": string, "app_version": string], required: ["plan"])
        let storeLimit: [String: Any] = ["type": "integer", "minimum": 0, "maximum": 1000]
        let jobStatus = enumeration(["queued", "running", "retrying", "succeeded", "failed", "cancelled"])
        let schemas: [String: Any] = [
            "Problem": object([
                "type": string, "title": string, "status": integer, "detail": string, "instance": string, "request_id": string,
                "errors": array(ref("FieldError")),
            ], required: ["type", "title", "status", "detail"]),
            "FieldError": object(["field": string, "message": string], required: ["field", "message"]),
            "CreateStoreRequest": object([
                "name": ["type": "string", "pattern": "^[a-z]([a-z0-9-]{1,38})[a-z0-9]$", "not": ["enum": StoreRules.reserved.sorted()]], "engine": enumeration(["woocommerce", "medusa"]),
                "plan": planName.merging(["description": "one of GET /api/plans (the default plan when left out); 422 when the plan does not offer the engine or the tenant may not use it"]) { a, _ in a },
            ], required: ["name", "engine"]),
            "SuspendStoreRequest": object([
                "reason": ["type": ["string", "null"], "maxLength": 500, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$"],
            ], required: []),
            "UpdateStoreRequest": object([
                "plan": planName, "chart_version": chartVersion, "app_version": appVersion,
            ], required: []).merging(["minProperties": 1]) { a, _ in a },
            "CreateTenantRequest": object([
                "name": ["type": "string", "pattern": "^[a-z0-9-]{2,63}$", "not": ["const": "admin"]], "role": enumeration(["admin", "member"]),
                "store_limit": storeLimit, "allowed_plans": allowedPlans,
            ], required: ["name"]),
            "IssueTokenRequest": object([
                // null is the same as leaving a field out: no name, no expiry.
                "name": ["type": ["string", "null"], "maxLength": 100, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$", "not": ["const": "bootstrap"]],
                "expires_at": ["type": ["string", "null"], "format": "date-time",
                               "description": "from a minute to five years ahead; 422 otherwise"],
            ], required: []),
            "UpdateTenantRequest": object(["store_limit": storeLimit.merging(["type": ["integer", "null"], "description": "null: unchanged"]) { _, b in b }, "allowed_plans": allowedPlans], required: []).merging(["minProperties": 1]) { a, _ in a },
            "Store": object([
                "id": uuid, "tenant_id": uuid, "name": string, "engine": enumeration(["woocommerce", "medusa"]), "status": storeStatus,
                "namespace": string, "plan": string, "chart_version": string, "app_version": string, "revision": integer,
                "suspended_by": enumeration(["tenant", "admin"]), "suspended_at": time, "suspension_reason": string,
                "urls": object(["storefront": string, "admin": string], required: ["storefront", "admin"]),
                "last_error": string, "created_at": time, "updated_at": time, "deleted_at": time, "latest_job": ref("Job"),
            ], required: ["id", "tenant_id", "name", "engine", "status", "namespace", "plan", "revision", "urls", "created_at", "updated_at"]),
            "Revision": object([
                "revision": integer, "spec": spec, "previous": spec,
                "outcome": enumeration(["pending", "applied", "rolling-back", "rolled-back", "failed", "cancelled"]),
                "reason": string, "job_id": uuid, "tenant_id": uuid, "token_id": uuid, "asked_by_another_tenant": boolean, "created_at": time, "finished_at": time,
            ], required: ["revision", "spec", "outcome", "created_at"]),
            "RevisionPage": object(["items": array(ref("Revision")), "next_cursor": string], required: ["items"]),
            "Plan": object([
                "name": string, "description": string, "is_default": boolean, "allowed": boolean,
                "engines": ["type": "object", "additionalProperties": object([
                    "requests_cpu": string, "requests_memory": string, "limits_cpu": string, "limits_memory": string,
                    "pods": integer, "storage": string, "max_volume": string,
                ], required: ["requests_cpu", "requests_memory", "limits_cpu", "limits_memory", "pods", "storage", "max_volume"])],
            ], required: ["name", "description", "is_default", "allowed", "engines"]),
            "PlanPage": object(["items": array(ref("Plan"))], required: ["items"]),
            "CreateRolloutRequest": object([
                "target": object(["chart_version": chartVersion, "app_version": appVersion], required: []).merging(["minProperties": 1]) { a, _ in a },
                "selector": object([
                    "engine": enumeration(["woocommerce", "medusa"]), "tenant_id": uuid, "plan": planName,
                    "store_ids": ["type": "array", "items": uuid, "minItems": 1, "maxItems": 300],
                ], required: []),
                "strategy": object([
                    "canary": ["type": "integer", "minimum": 0, "maximum": 100],
                    "wave_size": ["type": "integer", "minimum": 1, "maximum": 10_000],
                    "wave_percent": ["type": "integer", "minimum": 1, "maximum": 100],
                    "max_parallel": ["type": "integer", "minimum": 1, "maximum": 100],
                    "failure_threshold": ["type": "integer", "minimum": 0, "maximum": 10_000],
                ], required: []).merging(["not": ["required": ["wave_size", "wave_percent"]]]) { a, _ in a },
            ], required: ["target"]),
            "Rollout": object([
                "id": uuid, "status": enumeration(["running", "halted", "completed", "cancelled"]),
                "target": object(["chart_version": string, "app_version": string], required: []),
                "selector": ["type": "object", "additionalProperties": string],
                "strategy": ["type": "object", "additionalProperties": integer],
                "job_id": uuid, "reason": string, "halt_requested": boolean, "stores": integer,
                "counts": ["type": "object", "additionalProperties": integer],
                "waves": array(object([
                    "wave": integer, "canary": boolean, "stores": integer, "counts": ["type": "object", "additionalProperties": integer],
                    "status": enumeration(["pending", "running", "done"]),
                ], required: ["wave", "canary", "stores", "counts", "status"])),
                "failed_stores": array(object([
                    "store_id": uuid, "name": string, "wave": integer,
                    "status": enumeration(["rolled-back", "failed", "skipped"]), "job_id": uuid, "message": string,
                ], required: ["store_id", "name", "wave", "status"])),
                "created_at": time, "updated_at": time, "finished_at": time,
            ], required: ["id", "status", "target", "selector", "strategy", "job_id", "halt_requested", "stores", "counts", "waves", "created_at", "updated_at"]),
            "RolloutPage": object(["items": array(ref("Rollout"))], required: ["items"]),
            "StoreAccepted": object(["store": ref("Store"), "job": ref("Job")], required: ["store"]),
            "StoreCredentials": object([
                "store": uuid, "admin_url": string, "username": string, "password": string, "email": string,
            ], required: ["store", "admin_url", "username", "password"]),
            "StorePage": object(["items": array(ref("Store")), "next_cursor": string], required: ["items"]),
            "Step": object([
                "position": integer, "name": string,
                "status": enumeration(["pending", "running", "succeeded", "failed", "retrying", "cancelled"]),
                "attempts": integer, "started_at": time, "finished_at": time, "duration_ms": number, "message": string,
            ], required: ["position", "name", "status", "attempts"]),
            "Transition": object([
                "id": integer, "step": string, "position": integer, "attempt": integer, "status": string, "worker_id": string,
                "at": time, "duration_ms": number, "message": string,
            ], required: ["id", "attempt", "status", "at"]),
            "Job": object([
                "id": uuid, "kind": string, "store_id": uuid, "status": jobStatus, "current_step": integer, "progress": number,
                "cancel_requested": boolean, "error": string, "created_at": time, "started_at": time, "finished_at": time,
                "updated_at": time, "steps": array(ref("Step")), "transitions": array(ref("Transition")),
            ], required: ["id", "kind", "status", "current_step", "progress", "cancel_requested", "created_at", "updated_at", "steps"]),
            "JobSummary": object([
                "id": uuid, "kind": string, "status": jobStatus, "current_step": integer, "error": string, "created_at": time,
                "started_at": time, "finished_at": time,
            ], required: ["id", "kind", "status", "current_step", "created_at"]),
            "JobPage": object(["items": array(ref("JobSummary")), "next_cursor": string], required: ["items"]),
            "AuditEvent": object([
                "id": integer, "tenant_id": uuid, "token_id": uuid, "action": string, "target_type": string, "target_id": string,
                "client_ip": string, "request_id": string, "details": ["type": "object", "additionalProperties": string], "at": time,
                "by_admin": boolean,
            ], required: ["id", "action", "target_type", "details", "at"]),
            "AuditPage": object(["items": array(ref("AuditEvent")), "next_cursor": string], required: ["items"]),
            "Tenant": object(["id": uuid, "name": string, "role": enumeration(["admin", "member"]), "store_limit": integer,
                              "allowed_plans": array(string), "created_at": time],
                             required: ["id", "name", "role", "store_limit", "created_at"]),
            "IssuedToken": object(["id": uuid, "tenant_id": uuid, "name": string, "prefix": string, "token": string, "created_at": time, "expires_at": time],
                                  required: ["id", "tenant_id", "name", "prefix", "token", "created_at"]),
            "Token": object([
                "id": uuid, "tenant_id": uuid, "name": string, "prefix": string, "state": enumeration(["active", "expired", "revoked"]),
                "created_at": time, "last_used_at": time, "expires_at": time, "revoked_at": time,
            ], required: ["id", "tenant_id", "name", "prefix", "state", "created_at"]),
            "TokenPage": object(["items": array(ref("Token"))], required: ["items"]),
            "TenantPage": object(["items": array(ref("Tenant"))], required: ["items"]),
            "RevokedToken": object(["id": uuid, "revoked": string], required: ["id", "revoked"]),
            "Session": object([
                "tenant": ref("Tenant"), "token": object(["name": string, "prefix": string, "expires_at": time], required: ["name", "prefix"]),
                "simulated_cluster": boolean,
            ], required: ["tenant", "token", "simulated_cluster"]),
            "Stats": object([
                "queue_depth": integer, "retry_scheduled": integer, "running_jobs": integer, "live_workers": integer,
                "jobs_finished_last_minute": integer, "jobs_by_status": ["type": "object", "additionalProperties": integer],
            ], required: ["queue_depth", "retry_scheduled", "running_jobs", "live_workers", "jobs_finished_last_minute", "jobs_by_status"]),
            "StatsSeries": object([
                "window_minutes": integer,
                "jobs_per_minute": ["type": "array", "items": object([
                    "minute": time, "succeeded": integer, "failed": integer, "cancelled": integer,
                ], required: ["minute", "succeeded", "failed", "cancelled"])],
                "step_durations": ["type": "array", "items": object([
                    "kind": ["type": "string"], "step": ["type": "string"], "count": integer,
                    "p50_ms": ["type": "number"], "p95_ms": ["type": "number"],
                ], required: ["kind", "step", "count", "p50_ms", "p95_ms"])],
                "failures": ["type": "array", "items": object([
                    "kind": ["type": "string"], "step": ["type": "string"], "cause": ["type": "string"], "count": integer,
                ], required: ["kind", "step", "cause", "count"])],
            ], required: ["window_minutes", "jobs_per_minute", "step_durations", "failures"]),
        ]
        let paths: [String: Any] = [
            "/healthz": ["get": operation("liveness", secured: false, ["200": text("text/plain", "alive")])],
            "/readyz": ["get": operation("readiness: Postgres and Redis reachable", secured: false, [
                "200": text("text/plain", "ready"), "503": text("text/plain", "a backend is unreachable"),
            ])],
            "/metrics": ["get": operation("Prometheus metrics", secured: false, ["200": text("text/plain", "Prometheus text format 0.0.4")])],
            "/openapi.json": ["get": operation("this document", secured: false, ["200": ["description": "OpenAPI 3.1", "content": ["application/json": ["schema": ["type": "object"]]]]])],
            "/api/stats": ["get": operation("queue depth, retries scheduled and live workers (platform-wide); running jobs, jobs by status and jobs finished in the last minute (the caller's stores, all stores for admins)", ["200": json("Stats", "statistics"), "401": unauthorized])],
            "/api/stats/series": ["get": operation("the last hour of the caller's jobs (all jobs for admins): jobs finished per minute by outcome, step durations (p50, p95) per step, failed attempts by step and cause", ["200": json("StatsSeries", "the series"), "401": unauthorized])],
            "/api/me": ["get": operation("the caller's tenant and token, and whether stores land on a simulated cluster", ["200": json("Session", "the caller"), "401": unauthorized])],
            "/api/stores": [
                "post": operation("create a store (202: the store and its create job)", parameters: [idempotencyKey], body: "CreateStoreRequest",
                                  mutatingErrors.merging(["202": json("StoreAccepted", "accepted; poll the job", headers: location)]) { a, _ in a }),
                "get": operation("list the caller's stores (admins: all), newest first", parameters: [
                    query("status", storeStatus), pageLimit, query("cursor", uuid),
                ], ["200": json("StorePage", "a page of stores"), "401": unauthorized, "422": problem("bad filter, limit or cursor")]),
            ],
            "/api/stores/{id}": [
                "get": operation("a store, its URLs and its latest job", parameters: [path("id")], ["200": json("Store", "the store"), "401": unauthorized, "404": notFound]),
                "delete": operation("delete a store (idempotent)", parameters: [path("id"), idempotencyKey],
                                    mutatingErrors.merging(["202": json("StoreAccepted", "accepted; the delete job", headers: location), "404": notFound]) { a, _ in a }),
                "patch": operation("change a ready store's plan and/or versions (202: the update job, which rolls back when the new revision does not become ready; 200: nothing to change)",
                                   parameters: [path("id"), idempotencyKey], body: "UpdateStoreRequest",
                                   mutatingErrors.merging([
                                       "200": json("StoreAccepted", "the store already runs this spec"),
                                       "202": json("StoreAccepted", "accepted; the update job", headers: location), "404": notFound,
                                   ]) { a, _ in a }),
            ],
            "/api/stores/{id}/revisions": [
                "get": operation("the store's revisions, newest first: spec, what it replaced, who asked, the job and its outcome", parameters: [
                    path("id"), pageLimit, query("cursor", ["type": "string", "pattern": "^[1-9][0-9]{0,8}$"]),
                ], ["200": json("RevisionPage", "a page of revisions"), "401": unauthorized, "404": notFound, "422": problem("bad limit or cursor")]),
            ],
            "/api/stores/{id}/suspend": [
                "post": operation("suspend a ready store: every workload scaled to zero, its data kept (202: the suspend job); a store an admin suspends only an admin resumes",
                                  parameters: [path("id"), idempotencyKey], body: "SuspendStoreRequest", bodyRequired: false,
                                  mutatingErrors.merging([
                                      "200": json("StoreAccepted", "an administrator took over the tenant's own suspension; nothing to run"),
                                      "202": json("StoreAccepted", "accepted; the suspend job", headers: location), "404": notFound,
                                  ]) { a, _ in a }),
            ],
            "/api/stores/{id}/resume": [
                "post": operation("resume a suspended store (202: the resume job, which ends when the store sells again)", parameters: [path("id"), idempotencyKey],
                                  mutatingErrors.merging([
                                      "202": json("StoreAccepted", "accepted; the resume job", headers: location), "404": notFound,
                                      "403": problem("an administrator suspended the store; only an administrator can resume it"),
                                  ]) { a, _ in a }),
            ],
            "/api/rollouts": [
                "post": operation("roll a chart and/or application version out across the stores a selector picks, in waves, canary first (admin only; 202: the rollout and its job)",
                                  parameters: [idempotencyKey], body: "CreateRolloutRequest",
                                  mutatingErrors.merging([
                                      "202": json("Rollout", "accepted; follow GET /api/rollouts/{id}", headers: ["Location": ["description": "the rollout", "schema": string]]),
                                      "403": problem("not an admin"),
                                  ]) { a, _ in a }),
                "get": operation("rollouts, newest first (admin only)", parameters: [pageLimit], [
                    "200": json("RolloutPage", "rollouts"), "401": unauthorized, "403": problem("not an admin"), "422": problem("bad limit"),
                ]),
            ],
            "/api/rollouts/{id}": [
                "get": operation("a rollout: its waves' progress and the stores that did not take the new version (admin only)", parameters: [path("id")], [
                    "200": json("Rollout", "the rollout"), "401": unauthorized, "403": problem("not an admin"), "404": notFound,
                ]),
            ],
            "/api/rollouts/{id}/resume": [
                "post": operation("go on with a halted rollout past the wave it halted at (admin only)", parameters: [path("id"), idempotencyKey],
                                  mutatingErrors.merging(["202": json("Rollout", "accepted"), "403": problem("not an admin"), "404": notFound]) { a, _ in a }),
            ],
            "/api/rollouts/{id}/halt": [
                "post": operation("pause a running rollout: its job halts within seconds, starting no more stores; updates already running finish (admin only)",
                                  parameters: [path("id"), idempotencyKey],
                                  mutatingErrors.merging(["202": json("Rollout", "accepted"), "403": problem("not an admin"), "404": notFound]) { a, _ in a }),
            ],
            "/api/rollouts/{id}/cancel": [
                "post": operation("cancel a running or halted rollout: no store not yet started is; running updates finish (admin only)", parameters: [path("id"), idempotencyKey],
                                  mutatingErrors.merging(["202": json("Rollout", "accepted"), "403": problem("not an admin"), "404": notFound]) { a, _ in a }),
            ],
            "/api/plans": [
                "get": operation("the plans stores may be put on, their guardrails per engine, and which the caller's tenant may use", [
                    "200": json("PlanPage", "the plans"), "401": unauthorized,
                ]),
            ],
            "/api/stores/{id}/credentials": [
                "get": operation("the store's admin URL, user and password, read from its Secret now (owner or admin; audited; never stored)", parameters: [path("id")], [
                    "200": json("StoreCredentials", "the credentials"), "401": unauthorized, "404": notFound,
                    "409": problem("store deleted, credentials not created yet, or the Secret is not this store's"), "429": problem("rate limited"),
                    "502": problem("the cluster failed"),
                    "503": problem("no cluster configured"),
                ]),
            ],
            "/api/stores/{id}/retry": [
                "post": operation("re-run a failed store's job from its failed step", parameters: [path("id"), idempotencyKey],
                                  mutatingErrors.merging(["202": json("StoreAccepted", "accepted; the job again", headers: location), "404": notFound]) { a, _ in a }),
            ],
            "/api/jobs": ["get": operation("a store's jobs, newest first, paged with next_cursor", parameters: [query("store", uuid, required: true), pageLimit, query("cursor", uuid)], [
                "200": json("JobPage", "jobs"), "401": unauthorized, "404": notFound, "422": problem("store missing"),
            ])],
            "/api/jobs/{id}": ["get": operation("a job: status, steps, progress; include=transitions adds every attempt", parameters: [
                path("id"), query("include", enumeration(["transitions"])),
            ], ["200": json("Job", "the job"), "401": unauthorized, "404": notFound, "422": problem("unknown include")])],
            "/api/events": ["get": operation("Server-Sent Events: `job` (one per transition; its SSE id is an opaque stream position, `<xid>-<transition id>`) and `store` (status changes); resumable with Last-Event-ID (409 when the position is not one this database has reached; empty is no position); ends with `close`", parameters: [["name": "Last-Event-ID", "in": "header", "required": false,
                                       "schema": ["type": "string", "pattern": "^([0-9]{1,18}-[0-9]{1,18})?$"]]], [
                "200": ["description": "the event stream", "content": ["text/event-stream": ["schema": [
                    // One server-sent event as a client's parser yields it (the shape OpenAPI 3.2's itemSchema gives events).
                    "type": "object", "required": ["data"],
                    "properties": ["event": enumeration(["job", "store", "close"]), "data": string, "id": string, "retry": integer],
                ]]]], "401": unauthorized, "409": problem("Last-Event-ID names a position this database has not reached"), "422": problem("bad Last-Event-ID"),
                "429": problem("the tenant has EVENTS_MAX_STREAMS_PER_TENANT streams open on this replica"),
            ])],
            "/api/audit": ["get": operation("the audit trail, tenant-scoped (admins: all), newest first", parameters: [pageLimit, query("cursor", ["type": "integer", "minimum": 0, "maximum": Int64.max])], [
                "200": json("AuditPage", "audit events"), "401": unauthorized, "422": problem("bad limit or cursor"),
            ])],
            "/api/tenants": [
                "post": operation("create a tenant (admin only)", parameters: [idempotencyKey], body: "CreateTenantRequest",
                                  mutatingErrors.merging(["201": json("Tenant", "created"), "403": problem("not an admin")]) { a, _ in a }),
                "get": operation("every tenant, by name (admin only)", [
                    "200": json("TenantPage", "the tenants"), "401": unauthorized, "403": problem("not an admin"),
                ]),
            ],
            "/api/tenants/{id}": ["patch": operation("change a tenant's store limit (admin only)", parameters: [path("id"), idempotencyKey], body: "UpdateTenantRequest",
                mutatingErrors.merging(["200": json("Tenant", "updated"), "403": problem("not an admin"), "404": notFound]) { a, _ in a })],
            "/api/tenants/{id}/tokens": [
                "post": operation("issue a token, shown once, optionally expiring (admin only; no Idempotency-Key; the body may be empty)",
                                  parameters: [path("id")], body: "IssueTokenRequest", bodyRequired: false,
                                  mutatingErrors.merging(["201": json("IssuedToken", "the token, shown once"), "403": problem("not an admin"), "404": notFound]) { a, _ in a }),
                "get": operation("a tenant's tokens, newest first, with state, last use and expiry; never the secret (admin only)", parameters: [path("id")], [
                    "200": json("TokenPage", "the tokens"), "401": unauthorized, "403": problem("not an admin"), "404": notFound,
                ]),
            ],
            "/api/tenants/{id}/tokens/{token}": ["delete": operation("revoke a token (admin only)", parameters: [path("id"), path("token"), idempotencyKey],
                                                                     mutatingErrors.merging(["200": json("RevokedToken", "revoked"), "403": problem("not an admin"), "404": notFound]) { a, _ in a })],
        ]
        return [
            "openapi": "3.1.0",
            "info": ["title": "Storefleet gateway", "version": "1.0.0",
                     "description": "Provision isolated WooCommerce and MedusaJS stores. Errors are RFC 9457 problem+json. Another tenant's resources answer 404. "
                        + "On any path: 405 with Allow for a method the path does not accept; 400 for a malformed request or a path holding a "
                        + "control byte once percent-decoded; 408 when the request head or body does not arrive within the server's timeouts; "
                        + "431 when the request line and headers exceed its limit (32 KiB by default). All carry X-Request-ID."],
            "security": [["bearer": [String]()]],
            "components": ["schemas": schemas, "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]]],
            "paths": paths,
        ]
    }

    public static let json: Data = json(plans: PlanCatalog.builtIn().plans.keys.sorted())

    public static func json(plans: [String]) -> Data {
        (try? JSONSerialization.data(withJSONObject: dictionary(plans: plans), options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}

extension Gateway {
    func addOpenAPIRoute(to router: Router<GatewayContext>) {
        let document = OpenAPIDocument.json(plans: settings.plans.plans.keys.sorted())
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
    }
}
