"""Everything the client reads from the environment, in one place (Myelin names first, then Polyaxon v0.x)."""
import json
import logging
import os

logger = logging.getLogger("myelin")

TRUTHY = ("1", "true", "yes", "on", "y", "t")
DEFAULT_HOST = "http://127.0.0.1:8000"


def _first(env, *names):
    for name in names:
        value = env.get(name)
        if value is not None and value.strip() != "":
            return value
    return None


def _json(env, *names, default=None):
    raw = _first(env, *names)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        logger.warning("myelin: %s is not valid JSON; ignored", [n for n in names if env.get(n)][0])
        return default


def _number(env, name, default, cast=float, minimum=None):
    raw = _first(env, name)
    if raw is None:
        return default
    try:
        value = cast(raw)
    except ValueError:
        logger.warning("myelin: %s=%r is not a number; using %s", name, raw, default)
        return default
    if minimum is not None and value < minimum:
        return default
    return value


def is_no_op(env=None):
    env = os.environ if env is None else env
    return any((env.get(n) or "").strip().lower() in TRUTHY for n in ("MYELIN_NO_OP", "POLYAXON_NO_OP"))


def run_uuid(env):
    uuid = _first(env, "MYELIN_RUN_UUID")
    if uuid:
        return uuid
    info = _json(env, "POLYAXON_EXPERIMENT_INFO", "POLYAXON_JOB_INFO", default={}) or {}
    if isinstance(info, dict):
        return info.get("experiment_uuid") or info.get("job_uuid")
    return None


def token(env):
    return _first(env, "MYELIN_TOKEN", "POLYAXON_SECRET_USER_TOKEN", "POLYAXON_AUTH_TOKEN")


def host(env):
    return _first(env, "MYELIN_HOST", "POLYAXON_API_HTTP_HOST")


def tracking_host(env):
    """The tracking service when it is not served on the API's address (distributed mode)."""
    return _first(env, "MYELIN_TRACKING_HOST")


def outputs_path(env):
    return _first(env, "MYELIN_OUTPUTS_PATH", "POLYAXON_RUN_OUTPUTS_PATH")


def outputs_ephemeral(env):
    """The executor says the job's outputs folder dies with it (a pod without an outputs claim):
    what the job logs as outputs must be uploaded to be kept."""
    return (_first(env, "MYELIN_OUTPUTS_EPHEMERAL") or "").lower() in ("1", "true", "yes")


def params(env):
    value = _json(env, "MYELIN_PARAMS", "POLYAXON_PARAMS", default={})
    return value if isinstance(value, dict) else {}


def data_paths(env):
    value = _json(env, "MYELIN_DATA_PATHS", "POLYAXON_RUN_DATA_PATHS", default={})
    return value if isinstance(value, dict) else {}


def outputs_refs_paths(env):
    value = _json(env, "POLYAXON_REFS_OUTPUTS_PATHS", default={})
    return value if isinstance(value, (dict, list)) else {}


def project(env):
    return _first(env, "MYELIN_PROJECT")


def credentials(env):
    """``$MYELIN_HOME/credentials.json`` (written by ``myelin up``), the CLI's last fallback: {host, token}."""
    home = _first(env, "MYELIN_HOME") or os.path.join(os.path.expanduser("~"), ".myelin")
    try:
        with open(os.path.join(home, "credentials.json"), encoding="utf-8") as f:
            value = json.load(f)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


class Settings:
    """Tuning knobs; every one has an environment variable and a default that suits a training loop."""

    def __init__(self, env):
        self.flush_interval = _number(env, "MYELIN_FLUSH_INTERVAL", 1.0, minimum=0.01)
        self.flush_timeout = _number(env, "MYELIN_FLUSH_TIMEOUT", 10.0, minimum=0)
        self.max_buffered_points = _number(env, "MYELIN_MAX_BUFFERED_POINTS", 100000, int, minimum=1)
        self.max_batch_points = _number(env, "MYELIN_MAX_BATCH_POINTS", 10000, int, minimum=1)
        self.request_timeout = _number(env, "MYELIN_REQUEST_TIMEOUT", 10.0, minimum=0.1)
        self.retry_max_delay = _number(env, "MYELIN_RETRY_MAX_DELAY", 30.0, minimum=0.01)
        self.retry_base_delay = _number(env, "MYELIN_RETRY_BASE_DELAY", 0.5, minimum=0.001)
        self.spill_dir = _first(env, "MYELIN_SPILL_DIR")
        # Seconds between two heartbeats of a job (0: none); the scheduler fails a run it cannot see
        # and that stopped beating as a zombie after MYELIN_ZOMBIE_SECONDS (its side, default 300).
        self.heartbeat_interval = _number(env, "MYELIN_HEARTBEAT_INTERVAL", 30.0, minimum=0)
