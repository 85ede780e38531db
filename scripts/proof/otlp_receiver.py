#!/usr/bin/env python3
"""A small OTLP/HTTP trace receiver on loopback, for tests: it accepts what an OpenTelemetry exporter
posts to /v1/traces (protobuf, or JSON), and appends one JSON line per span to a file:
    {"service": ..., "instance": ..., "trace_id": hex, "span_id": hex, "parent_span_id": hex or "",
     "name": ..., "kind": "SERVER"|"CLIENT"|..., "status": "OK"|"ERROR"|"UNSET", "attributes": {...}}

    otlp_receiver.py OUT.jsonl PORTFILE    (writes the port it listens on to PORTFILE once ready)

Decoding uses opentelemetry-proto (PyPI, in the tools' venv: scripts/install-tools.sh).
"""
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

OUT, PORTFILE = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()
KINDS = {v: k.replace("SPAN_KIND_", "") for k, v in trace_pb2.Span.SpanKind.items()}
STATUS = {v: k.replace("STATUS_CODE_", "") for k, v in trace_pb2.Status.StatusCode.items()}


def value(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if kind is None:
        return None
    return getattr(any_value, kind)


def attributes(pairs):
    return {pair.key: value(pair.value) for pair in pairs}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = trace_service_pb2.ExportTraceServiceRequest()
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            json_format.Parse(body, request)
        else:
            request.ParseFromString(body)
        lines = []
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "service": resource.get("service.name"), "instance": resource.get("service.instance.id"),
                        "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(), "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name, "kind": KINDS.get(span.kind, str(span.kind)), "status": STATUS.get(span.status.code, "UNSET"),
                        "attributes": attributes(span.attributes),
                    }))
        with LOCK, open(OUT, "a") as out:
            for line in lines:
                out.write(line + "\n")
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
