"""Tracking a run from a training script, in the spirit of ``polyaxon_client.tracking``.

Inside a job everything comes from the environment::

    from myelin import tracking
    run = tracking.Run()
    run.log_metrics(step=1, loss=0.25)

Outside the platform, ``Run(project="owner/name")`` creates a run and reports its end.
"""
import atexit
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback as traceback_module
from datetime import datetime

from . import _config as config
from ._context import git_code_ref, hash_data, hash_path, run_environment
from ._http import HttpError, NetworkError, Transport, normalize_host, quote_path
from ._sender import Op, Sender
from .exceptions import MyelinError

logger = logging.getLogger("myelin")

FINAL_STATUSES = ("succeeded", "failed", "stopped")
REPORTABLE_STATUSES = ("running",) + FINAL_STATUSES
#: What the server accepts (beyond it a value would be refused with a 400, and a whole batch with it).
RUN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
MAX_METRIC_NAME = 250
MAX_LOG_LINE = 100000
MAX_TAG = 100
MAX_TAGS_PER_REQUEST = 100
MAX_CREATION_TAGS = 50
MAX_MESSAGE = 10000
MAX_TRACEBACK = 100000
#: Where spill files go inside an outputs folder.
SPILL_FOLDER = ".myelin"
#: The file in a run's outputs a pipeline reads the run's outputs from (``{{ ops.<op>.outputs.<name> }}``).
OUTPUTS_FILE = "outputs.json"
#: An output's name: what ``{{ ops.<op>.outputs.<name> }}`` can refer to.
OUTPUT_NAME = re.compile(r"^[-A-Za-z0-9_]{1,200}$")

_lock = threading.Lock()
_warned_untracked = False
_uncaught = None  # (exc_type, exc_value, formatted traceback) of the exception that ends the process
_hook_installed = False
_terminated = False  # a SIGTERM turned into SystemExit by our handler


# ----- module helpers (Polyaxon v0.x names); they only read the environment


def is_no_op():
    """True when MYELIN_NO_OP or POLYAXON_NO_OP is 1/true/yes: every tracking call does nothing."""
    return config.is_no_op(os.environ)


def get_run_uuid():
    return config.run_uuid(os.environ)


def get_outputs_path():
    """The run's outputs folder inside a job (MYELIN_OUTPUTS_PATH / POLYAXON_RUN_OUTPUTS_PATH), else None."""
    return config.outputs_path(os.environ)


def get_params():
    """The run's params inside a job (MYELIN_PARAMS / POLYAXON_PARAMS), else {}."""
    return config.params(os.environ)


def get_data_paths():
    """POLYAXON_RUN_DATA_PATHS (name -> path), else {}."""
    return config.data_paths(os.environ)


def get_outputs_refs_paths():
    """POLYAXON_REFS_OUTPUTS_PATHS, else {}."""
    return config.outputs_refs_paths(os.environ)


def get_log_level():
    """POLYAXON_LOG_LEVEL (or MYELIN_LOG_LEVEL), else None."""
    return config._first(os.environ, "MYELIN_LOG_LEVEL", "POLYAXON_LOG_LEVEL")


def get_cluster_def():
    """POLYAXON_CLUSTER (the replicas of a distributed job), parsed, else None."""
    return config._json(os.environ, "POLYAXON_CLUSTER")


def get_task_info():
    """POLYAXON_TASK_INFO ({"type", "index"} of this replica), parsed, else None."""
    return config._json(os.environ, "POLYAXON_TASK_INFO")


def _install_excepthook():
    """Remembers the exception that ends the process (the previous hook still prints it)."""
    global _hook_installed
    with _lock:
        if _hook_installed:
            return
        _hook_installed = True
        previous = sys.excepthook

        def hook(exc_type, exc_value, exc_tb):
            global _uncaught
            try:
                text = "".join(traceback_module.format_exception(exc_type, exc_value, exc_tb))
            except Exception:  # noqa: BLE001
                text = "%s: %s" % (exc_type.__name__, exc_value)
            _uncaught = (exc_type, exc_value, text)
            previous(exc_type, exc_value, exc_tb)

        sys.excepthook = hook


def _install_sigterm_handler(env):
    """Turns SIGTERM (how the platform stops a run, and what ``kill`` sends) into SystemExit(143),
    so that ``finally`` blocks and the exit flush run. Only when nobody else handles SIGTERM, from
    the main thread, and unless MYELIN_HANDLE_SIGTERM=0."""
    if (env.get("MYELIN_HANDLE_SIGTERM") or "1").strip().lower() not in config.TRUTHY:
        return
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass


def _on_sigterm(signum, frame):
    global _terminated
    _terminated = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise SystemExit(128 + signum)


def _json_safe(value):
    """NaN/±Infinity become the strings the API expects; tuples and sets become lists; anything
    else JSON cannot carry becomes its str()."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return _finite_or_string(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    try:  # numpy scalars and the like
        if hasattr(value, "__index__"):
            return int(value.__index__())
        if hasattr(value, "__float__"):
            return _finite_or_string(float(value))
    except Exception:  # noqa: BLE001
        pass
    return str(value)


def _finite_or_string(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _metric_value(value):
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int):
        return value
    try:
        return _finite_or_string(float(value))
    except (TypeError, ValueError):
        return None


def _timestamp(value):
    if value is None:
        return time.time()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return value  # ISO-8601, passed through
    try:
        return float(value)
    except (TypeError, ValueError):
        logger.warning("myelin: timestamp %r is neither a number nor a datetime; using now", value)
        return time.time()


def _read_json_object(path):
    """The JSON object in ``path``, or {} when there is none (or it is not an object: it is replaced)."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json_atomically(path, value):
    """Written beside and renamed into place: a reader never sees half a file."""
    folder = os.path.dirname(path) or "."
    fd, partial = tempfile.mkstemp(prefix=".outputs-", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, allow_nan=False)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def _destination(name):
    """A relative POSIX path inside the outputs; refuses to climb out of them."""
    parts = [p for p in str(name).replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError("not a path inside the outputs: %r" % name)
    return "/".join(parts)


class Run:
    """One run's tracking.

    - In a job (MYELIN_RUN_UUID set, no ``project`` given): attaches to that run with the job's token.
    - ``project="owner/name"``: creates a run through ``POST /api/v1/{owner}/{name}/runs/external``;
      at exit it reports ``succeeded``, or ``failed`` with the traceback of an uncaught exception
      (``stopped`` on KeyboardInterrupt), unless a final status was reported already.
    - ``run_uuid=...``: attaches to an existing run from outside (no automatic status).
    - MYELIN_NO_OP/POLYAXON_NO_OP truthy, or no run and no project at all: every call does nothing
      (the latter logs one warning).
    """

    # Set in a job whose executor says its outputs folder is not kept (MYELIN_OUTPUTS_EPHEMERAL).
    _outputs_ephemeral = False

    def __init__(
        self,
        project=None,
        run_uuid=None,
        host=None,
        token=None,
        name=None,
        description=None,
        tags=None,
        params=None,
        outputs_path=None,
        track_code=None,
        track_env=None,
        environ=None,
        _create=True,
    ):
        env = os.environ if environ is None else environ
        self._env = env
        self.settings = config.Settings(env)
        self._pid = os.getpid()
        self._sender = None
        self._ended = False
        self._final_reported = False
        self._created_here = False
        self._params_cache = {}
        self._outputs = {}
        self._warned = set()
        self._creation = None
        self._creation_lock = threading.Lock()
        self._heartbeat_stop = threading.Event()
        self._heartbeat_thread = None
        self.number = None
        self.run_uuid = None
        self.project = None
        self.in_job = False

        if config.is_no_op(env):
            self.mode = "no-op"
            self._outputs_path = outputs_path or config.outputs_path(env)
            self._params = dict(params or config.params(env))
            return

        env_uuid = config.run_uuid(env)
        if run_uuid:
            self.mode = "attached"
            self.run_uuid = str(run_uuid)
        elif project:
            self.mode = "created"
        elif env_uuid:
            self.mode = "job"
            self.in_job = True
            self.run_uuid = env_uuid
        elif config.project(env):
            self.mode = "created"
            project = config.project(env)
        else:
            self.mode = "no-op"
            global _warned_untracked
            if not _warned_untracked:
                _warned_untracked = True
                logger.warning(
                    "myelin: no run to track (not inside a job, no project given): tracking calls do nothing. "
                    "Pass project='owner/name' to create a run, or set MYELIN_NO_OP=1 to silence this."
                )
            self._outputs_path = outputs_path
            self._params = dict(params or {})
            return

        creds = {} if self.in_job else config.credentials(env)
        self.host = normalize_host(host or config.host(env) or creds.get("host") or config.DEFAULT_HOST)
        self._token = token or config.token(env) or creds.get("token")
        tracking_host = config.tracking_host(env) or self.host
        self.project = project or config.project(env)
        self._api = Transport(self.host, self._token, self.settings.request_timeout)
        self._tracking = Transport(tracking_host, self._token, self.settings.request_timeout)
        # Inside a job whose outputs folder is kept (the local executor, a pod with an outputs
        # claim) artifacts are copied there; where it dies with the job, they are uploaded too.
        self._outputs_ephemeral = self.in_job and config.outputs_ephemeral(env)
        if self.in_job:
            self._outputs_path = outputs_path or config.outputs_path(env)
            self._params = config.params(env)
        else:
            self._outputs_path = outputs_path
            self._params = dict(params or {})

        spill_dir = self.settings.spill_dir
        if not spill_dir:
            local = self._local_outputs()
            spill_dir = (
                os.path.join(local, SPILL_FOLDER)
                if local
                else os.path.join(tempfile.gettempdir(), "myelin-spill")
            )
        self._sender = Sender(self.settings, self._tracking, self._tracking_path, spill_dir, tracking_host)

        if self.mode == "created":
            if not self.project or self.project.count("/") != 1 or "" in self.project.split("/"):
                raise MyelinError("project must be 'owner/name', got %r" % (self.project,))
            self._creation = {}
            self._creation_tags_overflow = []
            self._set_creation_fields(name, description, tags, params)
            _install_excepthook()
            self._track_on_create = (
                track_code if track_code is not None else True,
                track_env if track_env is not None else True,
            )
            if _create:
                self.create()
        else:
            if track_code:
                self.log_code_ref()
            if track_env:
                self.log_run_env()
        if self.in_job:
            self._start_heartbeat()
        _install_sigterm_handler(env)
        atexit.register(self._at_exit)

    def __repr__(self):
        return "Run(mode=%r, project=%r, run_uuid=%r)" % (self.mode, self.project, self.run_uuid)

    # ----- creation

    def create(self, name=None, description=None, tags=None, params=None):
        """Creates the run now (Polyaxon's ``Experiment(project=...).create(...)``). A server that
        cannot be reached is not an error: the run is created in the background once it answers,
        and everything logged meanwhile is buffered. A final refusal (bad token, no such project)
        raises MyelinError."""
        if self.mode != "created" or self.run_uuid or self._ended:
            return self
        self._set_creation_fields(name, description, tags, params)
        if params:
            self._params.update(params)
        try:
            self._create_now(retries=1)
        except (NetworkError, HttpError) as e:
            if isinstance(e, HttpError) and not e.retryable:
                raise MyelinError("cannot create a run in %s: %s" % (self.project, e.message), status=e.status) from None
            logger.warning(
                "myelin: cannot reach %s to create the run (%s); it will be created when the server answers",
                self.host,
                e,
            )
        if self._creation_tags_overflow:  # creation takes MAX_CREATION_TAGS; the rest go after
            overflow, self._creation_tags_overflow = self._creation_tags_overflow, []
            self.log_tags(overflow)
        track_code, track_env = self._track_on_create
        self._track_on_create = (False, False)
        if track_code:
            self.log_code_ref()
        if track_env:
            self.log_run_env()
        return self

    def _set_creation_fields(self, name, description, tags, params):
        """Checks what the server would refuse with a 400 now, while the caller can still see it
        (a run created later in the background could only log a warning)."""
        if name:
            name = str(name)
            if not RUN_NAME.match(name):
                raise MyelinError("run name %r: at most 200 letters, digits, _ . -" % name, status=400)
            self._creation["name"] = name
        if description:
            self._creation["description"] = _clip(str(description), MAX_MESSAGE)
        tags = _valid_tags(_flatten(tags), self._warn_once)
        if tags:
            self._creation["tags"] = tags[:MAX_CREATION_TAGS]
            self._creation_tags_overflow.extend(tags[MAX_CREATION_TAGS:])
        if params:
            if not isinstance(params, dict):
                raise MyelinError("params must be a dict", status=400)
            self._creation.setdefault("params", {}).update(_json_safe(params))

    def _create_now(self, retries=0):
        with self._creation_lock:
            if self.run_uuid:
                return
            owner, name = self.project.split("/")
            path = "/api/v1/%s/%s/runs/external" % (quote_path(owner), quote_path(name))
            for attempt in range(retries + 1):
                try:
                    answer = self._api.request("POST", path, self._creation)
                    break
                except (NetworkError, HttpError) as e:
                    if attempt == retries or (isinstance(e, HttpError) and not e.retryable):
                        raise
                    time.sleep(0.3)
            if not isinstance(answer, dict) or not answer.get("uuid"):
                raise NetworkError("unexpected answer to run creation: %r" % (answer,))
            self.run_uuid = answer["uuid"]
            self.number = answer.get("number")
            self.project = answer.get("project") or self.project
            self._created_here = True
            logger.info("myelin: created run %s #%s (%s)", self.project, self.number, self.run_uuid)

    def _tracking_path(self):
        if not self.run_uuid:
            self._create_now()
        return "/api/v1/tracking/runs/%s/" % quote_path(self.run_uuid)

    # ----- state

    @property
    def is_no_op(self):
        return self.mode == "no-op"

    def _active(self):
        if self.mode == "no-op":
            return False
        if self._ended:
            if "ended" not in self._warned:
                self._warned.add("ended")
                logger.warning("myelin: the run has ended; further tracking calls are ignored")
            return False
        return True

    def _local_outputs(self):
        path = self._outputs_path
        return path if path and os.path.isdir(path) else None

    @property
    def outputs_path(self):
        return self._outputs_path

    def get_outputs_path(self):
        return self._outputs_path

    def get_params(self):
        return dict(self._params)

    def get_data_paths(self):
        return config.data_paths(self._env)

    @property
    def experiment_uuid(self):  # Polyaxon name
        return self.run_uuid

    # ----- metrics and logs (buffered, sent in the background)

    def log_metrics(self, step=None, timestamp=None, **metrics):
        """``log_metrics(step=3, loss=0.25, acc=0.9)``; NaN and ±Infinity are kept (sent as strings)."""
        if not self._active() or not metrics:
            return
        at = _timestamp(timestamp)
        if step is not None:
            try:
                step = int(step)
            except (TypeError, ValueError):
                step = -1
            if step < 0:
                self._warn_once("step", "myelin: a step must be an integer >= 0; points with step %r skipped" % (step,))
                return
        points = []
        for name, value in metrics.items():
            name = str(name)
            if not 0 < len(name) <= MAX_METRIC_NAME:
                self._warn_once("name:" + name, "myelin: a metric name must have 1 to %d characters; %r skipped" % (MAX_METRIC_NAME, name[:50]))
                continue
            number = _metric_value(value)
            if number is None:
                self._warn_once("metric:" + name, "myelin: metric %r has a non-numeric value %r; skipped" % (name, value))
                continue
            point = {"name": name, "value": number, "timestamp": at}
            if step is not None:
                point["step"] = step
            points.append(point)
        self._sender.add("metrics", points)

    def log_metric(self, name, value, step=None, timestamp=None):
        """One metric, for names that are not Python identifiers (``val/loss``)."""
        self.log_metrics(step=step, timestamp=timestamp, **{name: value})

    def log_line(self, line, stream="stdout", timestamp=None):
        if not self._active():
            return
        item = {"line": _clip(str(line), MAX_LOG_LINE), "stream": "stderr" if stream == "stderr" else "stdout", "timestamp": _timestamp(timestamp)}
        self._sender.add("logs", [item])

    def log_text(self, text, stream="stdout"):
        """Each line of ``text`` as a log line."""
        if not self._active():
            return
        at = time.time()
        kind = "stderr" if stream == "stderr" else "stdout"
        self._sender.add("logs", [{"line": _clip(line, MAX_LOG_LINE), "stream": kind, "timestamp": at} for line in str(text).splitlines()])

    # ----- params (synchronous: a write-once conflict is the caller's to know)

    def log_params(self, params=None, **kwargs):
        """Params are write-once. Raises MyelinError on a conflict (409) or a refused value (400).
        When the server cannot be reached the params are queued and retried in the background
        (a conflict found then is logged as a warning)."""
        if not self._active():
            return
        values = dict(params or {})
        values.update(kwargs)
        if not values:
            return
        values = _json_safe(values)
        clashes = {k: (self._params_cache[k], v) for k, v in values.items() if k in self._params_cache and self._params_cache[k] != v}
        if clashes:
            raise MyelinError(_conflict_text(clashes, self.run_uuid), status=409)
        body = {"params": values}
        if self.run_uuid and self._sender.healthy:
            for attempt in range(2):
                try:
                    answer = self._tracking.request("POST", self._tracking_path() + "params", body)
                except NetworkError:
                    if attempt == 0:
                        time.sleep(0.2)
                        continue
                    break
                except HttpError as e:
                    if e.status == 409:
                        raise MyelinError(self._conflict_message(values, e), status=409) from None
                    if e.status == 400:
                        raise MyelinError("params refused: %s" % e.message, status=400) from None
                    if e.retryable and attempt == 0:
                        time.sleep(0.2)
                        continue
                    if e.retryable:
                        break
                    logger.warning("myelin: the server refused params (%s); not stored", e)
                    return
                self._params_cache.update(values)
                self._params.update(values)
                if isinstance(answer, dict) and isinstance(answer.get("params"), dict):
                    self._params_cache.update(answer["params"])
                return
        self._params_cache.update(values)
        self._params.update(values)

        def rejected(error):
            if error.status == 409:
                logger.warning("myelin: %s", self._conflict_message(values, error))
            else:
                logger.warning("myelin: the server refused params (%s); not stored", error)

        self._sender.enqueue(Op("POST", "params", body, what="params", on_rejected=rejected))

    def _conflict_message(self, values, error):
        """Names each clashing key with the stored value and the one just logged."""
        try:
            stored = self._tracking.request("GET", self._tracking_path() + "metadata").get("params") or {}
        except Exception:  # noqa: BLE001 - the server's own message is the fallback
            stored = {}
        clashes = {k: (stored[k], v) for k, v in values.items() if k in stored and stored[k] != v}
        if clashes:
            return _conflict_text(clashes, self.run_uuid)
        return "params conflict on run %s: %s (logged: %s)" % (self.run_uuid, error.message, values)

    # ----- other writes (queued, retried in the background)

    def _enqueue(self, op):
        self._sender.enqueue(op)

    def log_tags(self, *tags):
        """``log_tags("a", "b")`` or ``log_tags(["a", "b"])``: adds tags to the run."""
        if not self._active():
            return
        values = _valid_tags(_flatten(tags), self._warn_once)
        for i in range(0, len(values), MAX_TAGS_PER_REQUEST):
            self._enqueue(Op("POST", "tags", {"tags": values[i : i + MAX_TAGS_PER_REQUEST]}, what="tags"))

    def log_status(self, status, message=None, traceback=None):
        """Reports a status of a run tracked from outside. Inside a job the scheduler owns the
        status, so this does nothing there."""
        if not self._active():
            return
        if self.in_job:
            self._warn_once(
                "status", "myelin: inside a job the scheduler reports the run's status; log_%s ignored" % status, logging.INFO
            )
            return
        if status not in REPORTABLE_STATUSES:
            raise ValueError("status must be one of %s" % ", ".join(REPORTABLE_STATUSES))
        body = {"status": status}
        if message is not None:
            body["message"] = _clip(str(message), MAX_MESSAGE)
        if traceback is not None:
            text = traceback if isinstance(traceback, str) else "".join(traceback_module.format_tb(traceback))
            body["traceback"] = _clip(text, MAX_TRACEBACK, keep_end=True)  # the end says what failed
        final = status in FINAL_STATUSES
        if final:
            self._final_reported = True
        self._enqueue(Op("POST", "status", body, what="status %s" % status, final=final))

    def log_running(self):
        self.log_status("running")

    def log_succeeded(self, message=None):
        self.log_status("succeeded", message)

    def log_failed(self, message=None, traceback=None):
        self.log_status("failed", message, traceback)

    def log_stopped(self, message=None):
        self.log_status("stopped", message)

    def log_code_ref(self, path=None):
        """The git commit, branch, dirty flag and remote (credentials stripped) of the repository
        holding ``path`` (default: the working directory). Skipped outside a repository."""
        if not self._active():
            return None
        ref = git_code_ref(path)
        if ref:
            self._enqueue(Op("PUT", "code-ref", ref, what="code ref"))
        return ref

    def log_run_env(self):
        """Host, platform, Python version and installed packages."""
        if not self._active():
            return None
        env = run_environment()
        self._enqueue(Op("PUT", "environment", env, what="environment"))
        return env

    def log_data_ref(self, name=None, data=None, path=None, hash=None, data_name=None):
        """Records a data set by name with ``sha256:<hex>`` of ``data`` (bytes, str, a buffer such as a
        numpy array, or JSON-able) or of the file/folder at ``path``, or a given ``hash``.
        ``data_name`` is Polyaxon's spelling of ``name``."""
        if not isinstance(name, str) and name is not None and data is None:
            name, data = data_name, name  # Polyaxon's positional order: log_data_ref(data, data_name)
        name = name or data_name or "data"
        if hash is None:
            if data is not None:
                hash = "sha256:" + hash_data(data)
            elif path is not None:
                hash = "sha256:" + hash_path(path)
            else:
                raise ValueError("log_data_ref needs data, path or hash")
        if not self._active():
            return hash
        ref = {"name": str(name), "hash": str(hash)}
        if path is not None:
            ref["path"] = str(path)
        self._enqueue(Op("POST", "data-refs", {"refs": [ref]}, what="data ref %s" % name))
        return hash

    # ----- artifacts

    def log_artifact(self, path, name=None):
        """Saves a file in the run's outputs as ``name`` (a relative path; default its file name).
        Inside a job whose outputs folder is local and kept, the file is copied there; otherwise
        (a run from outside, or a pod whose outputs folder dies with it, MYELIN_OUTPUTS_EPHEMERAL)
        it is uploaded (streamed) with ``PUT outputs/file``, queued for retry if the server is down."""
        if not os.path.isfile(path):
            raise FileNotFoundError("no such file: %s" % path)
        destination = _destination(name if name is not None else os.path.basename(path))
        if not self._active():
            return None
        # A run from outside, or a job whose outputs folder is not kept: always uploaded.
        local = self._local_outputs() if self.in_job and not self._outputs_ephemeral else None
        if local:
            target = os.path.join(local, *destination.split("/"))
            if os.path.exists(target) and os.path.samefile(path, target):
                return target
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(path, target)
            return target
        if self.run_uuid and self._sender.healthy:
            try:
                self._tracking.upload(self._tracking_path() + "outputs/file", {"path": destination}, path)
                return destination
            except HttpError as e:
                if not e.retryable:
                    logger.warning("myelin: the server refused the upload of %s (%s)", destination, e)
                    return None
            except NetworkError:
                pass
        self._enqueue(Op("PUT", "outputs/file", what="upload of %s" % destination, upload=(os.path.abspath(path), destination)))
        return destination

    def log_artifacts(self, path, name=None):
        """Every file under the folder ``path``, keeping their relative paths (under ``name`` if given)."""
        if not os.path.isdir(path):
            raise FileNotFoundError("no such folder: %s" % path)
        files = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for file_name in sorted(names):
                full = os.path.join(root, file_name)
                rel = os.path.relpath(full, path).replace(os.sep, "/")
                files.append((full, "%s/%s" % (name.strip("/"), rel) if name else rel))
        return [self.log_artifact(full, rel) for full, rel in files]

    # ----- outputs for the ops after this one (pipelines)

    def log_outputs(self, **outputs):
        """``log_outputs(rows=500, model="s3://bucket/m")``: values a pipeline passes on to the ops
        after this one (``{{ ops.<op>.outputs.rows }}``). They are kept in ``outputs.json`` in the
        run's outputs, merged with what earlier calls logged (a later value replaces an earlier
        one). Numbers, strings, booleans, lists and mappings keep their types; NaN and ±Infinity
        become strings, other objects their str(). Returns every output logged so far."""
        bad = sorted(k for k in outputs if not OUTPUT_NAME.match(k))
        if bad:
            raise ValueError("output names must be 1 to 200 letters, digits, _ and -: %s" % ", ".join(repr(b) for b in bad))
        if not outputs or not self._active():
            return dict(self._outputs)
        self._outputs.update({name: _json_safe(value) for name, value in outputs.items()})
        local = self._local_outputs() if self.in_job else None
        if local:
            path = os.path.join(local, OUTPUTS_FILE)
            merged = _read_json_object(path)
            merged.update(self._outputs)
            _write_json_atomically(path, merged)
            if self._outputs_ephemeral:
                # The folder dies with the pod: the ops after this one read the uploaded copy.
                self.log_artifact(path, name=OUTPUTS_FILE)
            return dict(merged)
        # No local outputs folder (a run from outside, or outputs elsewhere): the whole set is uploaded
        # from a file of this run's own, so an upload queued while the server is down sends the latest.
        staged = os.path.join(tempfile.gettempdir(), "myelin-outputs-%s-%d.json" % (self.run_uuid or "new", os.getpid()))
        _write_json_atomically(staged, self._outputs)
        self.log_artifact(staged, name=OUTPUTS_FILE)
        return dict(self._outputs)

    # ----- heartbeat

    def _start_heartbeat(self):
        """Inside a job: tells the platform every MYELIN_HEARTBEAT_INTERVAL seconds (default 30, 0 turns
        it off) that the job is alive, from a daemon thread, until ``end()``. The scheduler uses it for
        runs whose process or pod it cannot see; a lost heartbeat is not retried (the next one follows)."""
        interval = self.settings.heartbeat_interval
        if not interval or self._heartbeat_thread is not None:
            return
        thread = threading.Thread(target=self._heartbeat_loop, args=(interval,), name="myelin-heartbeat", daemon=True)
        self._heartbeat_thread = thread
        thread.start()

    def _heartbeat_loop(self, interval):
        path = self._tracking_path() + "heartbeat"
        timeout = min(self.settings.request_timeout, max(interval, 1.0))
        while not self._heartbeat_stop.is_set():
            try:
                self._tracking.request("POST", path, {}, timeout=timeout)
            except HttpError as e:
                if not e.retryable:  # refused (a server without heartbeats, a revoked token): stop asking
                    logger.debug("myelin: heartbeats refused (%s); no more are sent", e)
                    return
            except NetworkError:
                pass  # the next one follows
            except Exception:  # never let the thread die noisily in the training process
                logger.debug("myelin: heartbeat failed", exc_info=True)
            self._heartbeat_stop.wait(interval)

    def _stop_heartbeat(self):
        self._heartbeat_stop.set()

    # ----- end

    def flush(self, timeout=None):
        """Blocks until everything logged so far has been delivered (or ``timeout`` seconds,
        default MYELIN_FLUSH_TIMEOUT); answers whether it all was."""
        if self._sender is None:
            return True
        return self._sender.flush(self.settings.flush_timeout if timeout is None else timeout)

    def end(self, status="succeeded", message=None, traceback=None, timeout=None):
        """Reports the final status (runs tracked from outside, unless one was reported already),
        delivers what is buffered (bounded by ``timeout``) and stops the background thread."""
        if self._sender is None or self._ended:
            return True
        never_used = self.mode == "created" and not self.run_uuid and self._sender.is_empty()
        if never_used:  # e.g. an Experiment never created nor logged to: no run to end
            status = None
        if self.mode != "job" and not self._final_reported and status and os.getpid() == self._pid:
            self.log_status(status, message, traceback)
        self._ended = True
        self._stop_heartbeat()
        return self._sender.close(self.settings.flush_timeout if timeout is None else timeout)

    close = end

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        if exc_type is None or (exc_type is SystemExit and exc_value.code in (None, 0)):
            self.end("succeeded")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("stopped", "interrupted")
        else:
            text = "".join(traceback_module.format_exception(exc_type, exc_value, exc_tb))
            self.end("failed", _exception_message(exc_type, exc_value), text)
        return False

    def _at_exit(self):
        if self._ended or self._sender is None:
            return
        if os.getpid() != self._pid:  # a forked child: deliver its own data, never the run's status
            self._ended = True
            self._stop_heartbeat()
            self._sender.close(self.settings.flush_timeout)
            return
        if self._created_here or self.mode == "created":
            if _terminated:
                self.end("stopped", "terminated (SIGTERM)")
                return
            if _uncaught is not None:
                exc_type, exc_value, text = _uncaught
                if issubclass(exc_type, KeyboardInterrupt):
                    self.end("stopped", "interrupted")
                else:
                    self.end("failed", _exception_message(exc_type, exc_value), text)
                return
            self.end("succeeded")
        else:
            self.end(None)

    def _warn_once(self, key, message, level=logging.WARNING):
        if key not in self._warned:
            self._warned.add(key)
            logger.log(level, message)


def _exception_message(exc_type, exc_value):
    text = str(exc_value)
    return "%s: %s" % (exc_type.__name__, text) if text else exc_type.__name__


def _conflict_text(clashes, run_uuid):
    parts = ["%r is %s, cannot log %s" % (k, _show(old), _show(new)) for k, (old, new) in sorted(clashes.items())]
    return "params are write-once on run %s: %s" % (run_uuid, "; ".join(parts))


def _show(value):
    return repr(value)


def _clip(text, limit, keep_end=False):
    if len(text) <= limit:
        return text
    marker = "...[truncated]..."
    return marker + text[-(limit - len(marker)):] if keep_end else text[: limit - len(marker)] + marker


def _valid_tags(tags, warn_once):
    out = []
    for tag in tags:
        if 0 < len(tag) <= MAX_TAG:
            if tag not in out:
                out.append(tag)
        else:
            warn_once("tag:" + tag[:50], "myelin: a tag must have 1 to %d characters; %r skipped" % (MAX_TAG, tag[:50]))
    return out


def _flatten(tags):
    if isinstance(tags, str):
        return [tags]
    out = []
    for tag in tags or ():
        if isinstance(tag, (list, tuple, set)):
            out.extend(str(t) for t in tag)
        elif tag is not None:
            out.append(str(tag))
    return out


class Experiment(Run):
    """Polyaxon v0.x's name. Outside a job, ``Experiment(project=...)`` creates the run at
    ``create(...)`` (Polyaxon's two-step form) or, failing that, at the first tracking call."""

    def __init__(self, project=None, experiment_id=None, run_uuid=None, **kwargs):
        kwargs.setdefault("_create", False)
        super().__init__(project=project, run_uuid=run_uuid or experiment_id, **kwargs)


#: Polyaxon v0.x's name for a non-experiment job; the same client.
Job = Run
