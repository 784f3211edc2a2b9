"""Metrics reach the server exactly once whatever the server does: buffering, flush at exit,
outages, 413 splitting, lost responses, spilling to disk."""
import collections
import glob
import json
import os
import time

from helpers import ServerTestCase, run_script, start_script

from myelin import tracking


def keys(points):
    return collections.Counter((p["name"], p.get("step")) for p in points)


class FlushAtExitTest(ServerTestCase):
    def test_every_point_buffered_in_a_script_arrives_once_at_exit(self):
        run, env = self.job_environ(MYELIN_FLUSH_INTERVAL="5")  # only the exit flush can deliver them
        script = run_script(
            """
            from myelin import tracking
            run = tracking.Run()
            for step in range(2500):
                run.log_metrics(step=step, loss=1.0 / (step + 1), acc=step / 2500)
            """,
            env,
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        counts = keys(run.points())
        self.assertEqual(len(counts), 5000)
        self.assertEqual(set(counts.values()), {1})
        self.assertLess(script.elapsed, 10)
        point = next(p for p in run.points() if p["name"] == "loss" and p["step"] == 3)
        self.assertEqual(point["value"], 0.25)
        self.assertIsInstance(point["timestamp"], float)

    def test_the_background_thread_sends_while_the_script_runs(self):
        run, env = self.job_environ(MYELIN_FLUSH_INTERVAL="0.1")
        r = self.track(tracking.Run(environ=env))
        r.log_metrics(step=1, loss=0.5)
        deadline = time.monotonic() + 3
        while not run.points() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual([(p["name"], p["step"], p["value"]) for p in run.points()], [("loss", 1, 0.5)])

    def test_nan_and_infinity_travel_as_strings(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r.log_metrics(step=0, a=float("nan"), b=float("inf"), c=float("-inf"), d=True, e=3)
        r.log_metrics(step=1, bad="not a number")  # skipped with a warning, nothing raised
        self.assertTrue(r.flush(5))
        values = {p["name"]: p["value"] for p in run.points()}
        self.assertEqual(values, {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": 1, "e": 3})


class OutageTest(ServerTestCase):
    def test_server_down_mid_run_then_back_every_point_once_and_a_quick_exit(self):
        run, env = self.job_environ(MYELIN_RETRY_MAX_DELAY="30", MYELIN_FLUSH_INTERVAL="0.2")
        child = start_script(
            """
            import time
            from myelin import tracking
            run = tracking.Run()
            for step in range(150):
                run.log_metrics(step=step, loss=step * 0.5)
                time.sleep(0.02)
            """,
            env,
        )
        started = time.monotonic()
        while not run.points() and time.monotonic() - started < 15:  # some points arrived before the outage
            time.sleep(0.02)
        self.server.stop()
        down_at = len(run.points())
        time.sleep(1.5)
        self.server.start()
        _, stderr = child.communicate(timeout=30)
        elapsed = time.monotonic() - started
        self.assertEqual(child.returncode, 0, stderr)
        self.assertGreater(down_at, 0)
        self.assertLess(down_at, 150)  # and some after it
        counts = keys(run.points())
        self.assertEqual(len(counts), 150)
        self.assertEqual(set(counts.values()), {1})
        self.assertLess(elapsed, 15)
        self.assertIn("buffering and retrying", stderr)
        self.assertNotIn("run-token-abc", stderr)

    def test_server_down_at_exit_waits_at_most_the_flush_timeout(self):
        run, env = self.job_environ(MYELIN_FLUSH_TIMEOUT="1.5")
        self.server.stop()
        script = run_script(
            """
            from myelin import tracking
            run = tracking.Run()
            run.log_metrics(step=1, loss=1.0)
            """,
            env,
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        self.assertLess(script.elapsed, 6)
        self.assertIn("not delivered before exit", script.stderr)
        spilled = glob.glob(os.path.join(env["MYELIN_SPILL_DIR"], "spill-*.jsonl"))
        self.assertEqual(len(spilled), 1)  # kept on disk rather than lost
        with open(spilled[0]) as f:
            self.assertIn('"loss"', f.read())

    def test_5xx_answers_are_retried(self):
        run, env = self.job_environ()
        self.server.fail_next = 3
        r = self.track(tracking.Run(environ=env))
        r.log_metrics(step=1, loss=1.0)
        self.assertTrue(r.flush(10))
        self.assertEqual(len(run.points()), 1)
        self.assertGreaterEqual(len(run.batch_posts), 1)


class BatchTest(ServerTestCase):
    max_batch = 100

    def test_413_splits_the_batch_in_halves_until_the_server_accepts(self):
        run, env = self.job_environ(MYELIN_FLUSH_INTERVAL="5")
        r = self.track(tracking.Run(environ=env))
        for step in range(1000):
            r.log_metrics(step=step, loss=float(step))
        self.assertTrue(r.flush(10))
        counts = keys(run.points())
        self.assertEqual(len(counts), 1000)
        self.assertEqual(set(counts.values()), {1})
        self.assertTrue(all(len(b) <= 100 for b in run.metric_batches.values()))
        self.assertGreater(len(run.batch_posts), len(run.metric_batches))  # the refused ones

    def test_batches_hold_at_most_max_batch_points(self):
        run, env = self.job_environ(MYELIN_MAX_BATCH_POINTS="40", MYELIN_FLUSH_INTERVAL="5")
        r = self.track(tracking.Run(environ=env))
        for step in range(200):
            r.log_metrics(step=step, loss=1.0)
        self.assertTrue(r.flush(10))
        self.assertEqual(len(run.points()), 200)
        self.assertEqual(max(len(b) for b in run.metric_batches.values()), 40)
        self.assertEqual(len(run.batch_posts), len(run.metric_batches))  # no 413 needed


class IdempotencyTest(ServerTestCase):
    def test_a_lost_response_is_retried_with_the_same_batch_id_and_stored_once(self):
        run, env = self.job_environ()
        self.server.drop_after_store = 1
        r = self.track(tracking.Run(environ=env))
        for step in range(10):
            r.log_metrics(step=step, loss=1.0)
        self.assertTrue(r.flush(10))
        self.assertEqual(len(run.points()), 10)
        self.assertEqual(set(keys(run.points()).values()), {1})
        first = run.batch_posts[0]
        self.assertEqual(run.batch_posts.count(first), 2)  # sent again, answered duplicate
        self.assertEqual(len(run.metric_batches), len(set(run.batch_posts)))

    def test_a_permanent_4xx_drops_the_batch_with_a_warning_and_no_token(self):
        run, env = self.job_environ()
        env["MYELIN_TOKEN"] = "wrong-token-xyz"
        r = self.track(tracking.Run(environ=env))
        with self.assertLogs("myelin", "WARNING") as logs:
            r.log_metrics(step=1, loss=1.0)
            self.assertTrue(r.flush(5))  # a final answer: nothing left to send
        self.assertEqual(run.points(), [])
        text = "\n".join(logs.output)
        self.assertIn("refused", text)
        self.assertNotIn("wrong-token-xyz", text)


class SpillTest(ServerTestCase):
    def test_beyond_the_memory_bound_points_spill_to_the_outputs_and_arrive_later(self):
        outputs = os.path.join(self.tmp, "outputs")
        os.makedirs(outputs)
        run, env = self.job_environ(outputs=outputs, MYELIN_MAX_BUFFERED_POINTS="1000", MYELIN_MAX_BATCH_POINTS="300")
        del env["MYELIN_SPILL_DIR"]  # the default: <outputs>/.myelin
        self.server.stop()
        r = self.track(tracking.Run(environ=env))
        for step in range(5000):
            r.log_metrics(step=step, loss=float(step))
        memory, on_disk = r._sender.buffered()
        self.assertLessEqual(memory, 1000)
        self.assertEqual(memory + on_disk, 5000)
        spill = os.path.join(outputs, ".myelin", "spill-%d.jsonl" % os.getpid())
        self.assertTrue(os.path.isfile(spill))
        with open(spill) as f:
            spilled_ids = [json.loads(line)["batchId"] for line in f]
        self.server.start()
        self.assertTrue(r.flush(20))
        counts = keys(run.points())
        self.assertEqual(len(counts), 5000)
        self.assertEqual(set(counts.values()), {1})
        self.assertTrue(set(spilled_ids) <= set(run.metric_batches))  # sent with the ids they were spilled with
        self.assertFalse(os.path.exists(spill))  # removed once drained


class NoThreadTest(ServerTestCase):
    def test_flush_delivers_from_the_callers_thread_when_no_thread_can_start(self):
        # What happens at interpreter shutdown on Python >= 3.12, where threads can no longer start.
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r._sender._ensure_worker = lambda: None
        for step in range(30):
            r.log_metrics(step=step, loss=1.0)
        self.server.fail_next = 2  # and it still retries
        self.assertTrue(r.flush(10))
        self.assertEqual(len(keys(run.points())), 30)
        self.assertIsNone(r._sender._thread)
