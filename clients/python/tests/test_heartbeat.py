"""Heartbeats of a job: sent in the background while the run is tracked, stopped at its end."""
import threading
import time

from helpers import USER_TOKEN, ServerTestCase, clean_environ
from myelin import tracking


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def heartbeat_threads():
    return [t for t in threading.enumerate() if t.name == "myelin-heartbeat" and t.is_alive()]


class HeartbeatTest(ServerTestCase):
    def test_a_job_beats_every_interval_until_it_ends(self):
        run, env = self.job_environ(MYELIN_HEARTBEAT_INTERVAL="0.2")
        r = self.track(tracking.Run(environ=env))
        self.assertTrue(wait_until(lambda: len(run.heartbeats) >= 3), run.heartbeats)
        gaps = [b - a for a, b in zip(run.heartbeats, run.heartbeats[1:])]
        self.assertTrue(all(g >= 0.15 for g in gaps), gaps)  # paced, not a busy loop
        r.end()
        self.assertTrue(wait_until(lambda: not heartbeat_threads(), 3), "the heartbeat thread stops at the end")
        count = len(run.heartbeats)
        time.sleep(0.6)
        self.assertEqual(len(run.heartbeats), count)

    def test_the_first_heartbeat_goes_at_once(self):
        run, env = self.job_environ(MYELIN_HEARTBEAT_INTERVAL="60")
        self.track(tracking.Run(environ=env))
        self.assertTrue(wait_until(lambda: len(run.heartbeats) == 1, 3))

    def test_an_unreachable_server_does_not_stop_the_heartbeats(self):
        run, env = self.job_environ(MYELIN_HEARTBEAT_INTERVAL="0.1")
        self.server.fail_next = 3  # 503 three times
        self.track(tracking.Run(environ=env))
        self.assertTrue(wait_until(lambda: len(run.heartbeats) >= 2), run.heartbeats)

    def test_a_refused_heartbeat_is_not_repeated(self):
        run, env = self.job_environ(MYELIN_HEARTBEAT_INTERVAL="0.1")
        env["MYELIN_TOKEN"] = "not-this-runs-token"  # 404 for this run
        self.track(tracking.Run(environ=env, track_code=False, track_env=False))
        self.assertTrue(wait_until(lambda: any(p.endswith("/heartbeat") for p in self.server.paths())))
        time.sleep(0.5)
        self.assertEqual(sum(p.endswith("/heartbeat") for p in self.server.paths()), 1)
        self.assertEqual(run.heartbeats, [])

    def test_no_heartbeats_when_turned_off_or_outside_a_job(self):
        run, env = self.job_environ(MYELIN_HEARTBEAT_INTERVAL="0")
        self.track(tracking.Run(environ=env))
        laptop = clean_environ(MYELIN_HOST=self.server.url, MYELIN_TOKEN=USER_TOKEN, MYELIN_HEARTBEAT_INTERVAL="0.1")
        external = self.track(tracking.Run(project="alice/vision", environ=laptop, track_code=False, track_env=False))
        external.log_metrics(step=1, loss=1.0)
        external.flush(5)
        time.sleep(0.5)
        self.assertEqual(run.heartbeats, [])
        self.assertFalse(any(p.endswith("/heartbeat") for p in self.server.paths()))
