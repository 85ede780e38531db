"""Tiny HTTP layer on urllib (stdlib only) with a swappable transport for tests."""
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request


class HTTPError(Exception):
    def __init__(self, method, url, status, body):
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body if isinstance(body, bytes) else (body or "").encode()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.text) if self.body else {}


class Request:
    def __init__(self, method, url, headers=None, body=None):
        self.method = method
        self.url = url
        self.headers = dict(headers or {})
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    @property
    def path(self):
        parts = urllib.parse.urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


class UrllibTransport:
    """Real network transport; keeps cookies (WordPress admin login needs them)."""

    def __init__(self, timeout=30):
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def __call__(self, req):
        r = urllib.request.Request(req.url, data=req.body, headers=req.headers, method=req.method)
        try:
            with self.opener.open(r, timeout=self.timeout) as resp:
                return Response(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers.items()) if e.headers else {}, e.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # wp-login.php answers 302 with the auth cookies; keep the 302 visible.
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    def __init__(self, base_url, transport=None):
        self.base = base_url.rstrip("/")
        self.transport = transport or UrllibTransport()

    def call(self, method, path, json_body=None, headers=None, form=None, ok=(200, 201)):
        headers = {"Accept": "application/json", **(headers or {})}
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = path if path.startswith("http") else self.base + path
        resp = self.transport(Request(method, url, headers, body))
        if ok and resp.status not in ok:
            raise HTTPError(method, url, resp.status, resp.text)
        return resp
