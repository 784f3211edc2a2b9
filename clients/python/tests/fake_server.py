"""An in-test implementation of the tracking HTTP API (docs/tracking-http-api.md) and of the core
API's external run creation, on a real socket, with knobs to misbehave:

- ``max_batch``: more points/lines than this answers 413;
- ``drop_after_store``: that many ingest requests are stored, then the connection is closed
  without an answer (a lost response);
- ``fail_next``: that many requests answer 503;
- ``stop()`` / ``start()``: the server goes away and comes back on the same port.
"""
import hashlib
import json
import time
import re
import socket
import threading
import uuid as uuid_module
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

USER_TOKEN = "user-secret-token-0123456789"

RUN_PATH = re.compile(r"^/api/v1/tracking/runs/([^/]+)/(.+)$")
CREATE_PATH = re.compile(r"^/api/v1/([^/]+)/([^/]+)/runs/external$")


class FakeRun:
    def __init__(self, uuid, project, external, number):
        self.uuid = uuid
        self.project = project
        self.external = external
        self.number = number
        self.creation = None
        self.params = {}
        self.tags = []
        self.statuses = []  # (body, number of metric points stored when it arrived)
        self.metric_batches = {}  # batchId -> points
        self.log_batches = {}
        self.batch_posts = []  # every batchId posted, duplicates included
        self.code_ref = None
        self.environment = None
        self.data_refs = []
        self.files = {}  # path -> bytes
        self.upload_headers = {}
        self.heartbeats = []  # time.monotonic() of each heartbeat received

    def points(self):
        return [p for batch in self.metric_batches.values() for p in batch]

    def lines(self):
        return [l for batch in self.log_batches.values() for l in batch]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeServer:
    def __init__(self, max_batch=10000):
        self.lock = threading.Lock()
        self.runs = {}
        self.run_tokens = {}  # token -> uuid
        self.requests = []  # (method, path, query)
        self.max_batch = max_batch
        self.drop_after_store = 0
        self.fail_next = 0
        self.port = 0
        self._httpd = None
        self._thread = None

    # ----- lifecycle

    def start(self):
        httpd = _Server(("127.0.0.1", self.port), _handler_for(self))
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # ----- fixtures and views

    def add_run(self, project="alice/vision", external=False, token=None):
        with self.lock:
            run = FakeRun(str(uuid_module.uuid4()), project, external, len(self.runs) + 1)
            self.runs[run.uuid] = run
            if token:
                self.run_tokens[token] = run.uuid
            return run

    def only_run(self):
        with self.lock:
            assert len(self.runs) == 1, "expected one run, got %d" % len(self.runs)
            return next(iter(self.runs.values()))

    def paths(self, method=None):
        with self.lock:
            return [p for m, p, _ in self.requests if method is None or m == method]


def _handler_for(server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _reply(self, status, body):
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def _error(self, status, message):
            names = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict", 411: "Length Required", 413: "Payload Too Large", 503: "Service Unavailable"}
            self._reply(status, {"statusCode": status, "error": names.get(status, "Error"), "message": message})

        def _drop(self):
            """Closes the connection without an answer."""
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _body_bytes(self):
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return None
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _json(self):
            raw = self._body_bytes()
            return json.loads(raw.decode("utf-8")) if raw else {}

        def _auth(self, run_uuid=None):
            header = self.headers.get("Authorization") or ""
            scheme, _, token = header.partition(" ")
            if scheme.lower() not in ("token", "bearer") or not token:
                return "unauthorized"
            if token == USER_TOKEN:
                return "user"
            if token in server.run_tokens and (run_uuid is None or server.run_tokens[token] == run_uuid):
                return "run"
            return "forbidden"

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PUT(self):
            self._handle("PUT")

        def _handle(self, method):
            parts = urlsplit(self.path)
            path = parts.path
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with server.lock:
                server.requests.append((method, path, query))
                if server.fail_next > 0:
                    server.fail_next -= 1
                    self._body_bytes()
                    return self._error(503, "try later")
            created = CREATE_PATH.match(path)
            if created and method == "POST":
                return self._create(created.group(1), created.group(2))
            match = RUN_PATH.match(path)
            if not match:
                return self._error(404, "no route %s %s" % (method, path))
            run_uuid, rest = unquote(match.group(1)), match.group(2)
            auth = self._auth(run_uuid)
            if auth == "unauthorized":
                return self._error(401, "missing or bad token")
            with server.lock:
                run = server.runs.get(run_uuid)
            if run is None or auth == "forbidden":
                return self._error(404, "run not found")
            route = getattr(self, "_%s_%s" % (method.lower(), rest.replace("-", "_").replace("/", "_")), None)
            if route is None:
                return self._error(404, "no route %s %s" % (method, rest))
            return route(run, query)

        def _create(self, owner, name):
            if self._auth() != "user":
                return self._error(401, "a user token is needed")
            body = self._json()
            run = server.add_run(project="%s/%s" % (owner, name), external=True)
            with server.lock:
                run.creation = body
                run.params = dict(body.get("params") or {})
                run.tags = list(body.get("tags") or [])
            self._reply(201, {"uuid": run.uuid, "number": run.number, "project": run.project, "status": "running", "name": body.get("name")})

        def _ingest(self, run, key, store):
            body = self._json()
            batch_id = body.get("batchId")
            items = body.get(key)
            if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 64:
                return self._error(400, "batchId must be a string of 1 to 64 characters")
            if not isinstance(items, list):
                return self._error(400, "%s must be an array" % key)
            with server.lock:
                run.batch_posts.append(batch_id)
                if len(items) > server.max_batch:
                    return self._error(413, "at most %d %s per batch" % (server.max_batch, key))
                if batch_id in store:
                    return self._reply(200, {"stored": 0, "duplicate": True})
                for item in items:
                    if key == "points":
                        value = item.get("value")
                        if not isinstance(item.get("name"), str) or not (
                            isinstance(value, (int, float)) and not isinstance(value, bool) or value in ("NaN", "Infinity", "-Infinity")
                        ):
                            return self._error(400, "points: bad point %r" % (item,))
                store[batch_id] = items
                drop = server.drop_after_store > 0
                if drop:
                    server.drop_after_store -= 1
            if drop:
                return self._drop()
            self._reply(201, {"stored": len(items), "duplicate": False})

        def _post_metrics(self, run, query):
            self._ingest(run, "points", run.metric_batches)

        def _post_logs(self, run, query):
            self._ingest(run, "lines", run.log_batches)

        def _post_params(self, run, query):
            params = self._json().get("params")
            if not isinstance(params, dict):
                return self._error(400, "params must be an object")
            with server.lock:
                for key, value in params.items():
                    if isinstance(value, float) and value != value:
                        return self._error(400, "params.%s: bad value" % key)
                    if key in run.params and run.params[key] != value:
                        return self._error(409, "param %s is already set" % key)
                run.params.update(params)
                answer = dict(run.params)
            self._reply(201, {"params": answer})

        def _post_tags(self, run, query):
            tags = self._json().get("tags")
            with server.lock:
                for tag in tags:
                    if tag not in run.tags:
                        run.tags.append(tag)
                answer = list(run.tags)
            self._reply(201, {"tags": answer})

        def _post_status(self, run, query):
            body = self._json()
            if not run.external:
                return self._error(409, "the scheduler reports this run's status")
            with server.lock:
                run.statuses.append((body, len(run.points())))
            self._reply(201, {"status": body.get("status")})

        def _post_heartbeat(self, run, query):
            self._body_bytes()
            with server.lock:
                run.heartbeats.append(time.monotonic())
            self._reply(200, {"received": True, "relayed": True})

        def _put_code_ref(self, run, query):
            body = self._json()
            if not body.get("commit"):
                return self._error(400, "commit is required")
            run.code_ref = body
            self._reply(200, body)

        def _put_environment(self, run, query):
            run.environment = self._json()
            self._reply(200, run.environment)

        def _post_data_refs(self, run, query):
            refs = self._json().get("refs")
            with server.lock:
                run.data_refs.extend(refs)
            self._reply(201, {"refs": run.data_refs})

        def _get_metadata(self, run, query):
            with server.lock:
                self._reply(200, {"params": run.params, "codeRef": run.code_ref, "environment": run.environment, "dataRefs": run.data_refs})

        def _put_outputs_file(self, run, query):
            if "Content-Length" not in self.headers:
                self._body_bytes()
                return self._error(411, "Content-Length required")
            # Small files are kept as bytes; large ones only as (size, sha256), so that a test can
            # measure the client's memory without counting the server's.
            length = int(self.headers["Content-Length"])
            digest, chunks, remaining = hashlib.sha256(), [], length
            while remaining:
                chunk = self.rfile.read(min(remaining, 256 * 1024))
                if not chunk:
                    break
                digest.update(chunk)
                if length <= 1 << 20:
                    chunks.append(chunk)
                remaining -= len(chunk)
            stored = b"".join(chunks) if length <= 1 << 20 else (length - remaining, digest.hexdigest())
            with server.lock:
                run.files[query.get("path")] = stored
                run.upload_headers[query.get("path")] = dict(self.headers)
            self._reply(200, {"path": query.get("path"), "size": length - remaining})

    return Handler
