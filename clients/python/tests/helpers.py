import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from fake_server import USER_TOKEN, FakeServer

CLIENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean_environ(**extra):
    """The test process's environment without any MYELIN_/POLYAXON_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYELIN_", "POLYAXON_"))}
    env["MYELIN_HOME"] = tempfile.gettempdir() + "/myelin-client-tests-no-home"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _default_signals():
    """Scripts start with SIGTERM and SIGINT at their defaults, as the platform starts a job (libuv
    resets every disposition before exec). Python's subprocess keeps an inherited SIG_IGN, and a
    test runner started with SIGTERM ignored (nohup, some CI harnesses) would otherwise hand that on:
    the client rightly leaves an ignored SIGTERM alone, and the SIGTERM test would wait forever."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Script:
    def __init__(self, completed, elapsed):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.elapsed = elapsed


def run_script(code, env, timeout=40, cwd=None):
    """Runs ``code`` in a fresh interpreter that imports the client from this folder."""
    env = dict(env)
    env["PYTHONPATH"] = CLIENT_DIR + os.pathsep + env.get("PYTHONPATH", "")
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        preexec_fn=_default_signals if os.name == "posix" else None,
    )
    return Script(completed, time.monotonic() - started)


def start_script(code, env, cwd=None):
    env = dict(env)
    env["PYTHONPATH"] = CLIENT_DIR + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals if os.name == "posix" else None,
    )


class ServerTestCase(unittest.TestCase):
    """A fake server per test, a temp folder, and every in-process Run ended at teardown."""

    max_batch = 10000

    def setUp(self):
        self.server = FakeServer(max_batch=self.max_batch).start()
        self.addCleanup(self.server.stop)
        self.tmp = tempfile.mkdtemp(prefix="myelin-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self._runs = []

        def end_runs():
            for run in self._runs:
                run.end(None, timeout=1)

        self.addCleanup(end_runs)

    def job_environ(self, run_token="run-token-abc", outputs=None, **extra):
        """The environment a job gets from the local executor, for a fresh run on the fake server."""
        run = self.server.add_run(token=run_token)
        env = clean_environ(
            MYELIN_RUN_UUID=run.uuid,
            MYELIN_TOKEN=run_token,
            MYELIN_HOST=self.server.url,
            MYELIN_PROJECT=run.project,
            MYELIN_FLUSH_INTERVAL="0.1",
            MYELIN_RETRY_MAX_DELAY="0.5",
            MYELIN_REQUEST_TIMEOUT="2",
            MYELIN_SPILL_DIR=os.path.join(self.tmp, "spill"),
            MYELIN_HEARTBEAT_INTERVAL="0",  # tests that count requests; heartbeat tests turn it on
        )
        if outputs:
            env["MYELIN_OUTPUTS_PATH"] = outputs
        env.update({k: str(v) for k, v in extra.items()})
        return run, env

    def track(self, run):
        self._runs.append(run)
        return run

    def laptop_run(self, **kwargs):
        """A run created from outside the platform (a laptop's script), on the fake server."""
        from myelin import tracking

        env = clean_environ(MYELIN_HOST=self.server.url, MYELIN_TOKEN=USER_TOKEN)
        return self.track(tracking.Run(project="alice/vision", environ=env, track_env=False, track_code=False, **kwargs))


__all__ = ["USER_TOKEN", "FakeServer", "ServerTestCase", "clean_environ", "run_script", "start_script", "CLIENT_DIR"]
