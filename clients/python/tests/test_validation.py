"""What the server would refuse is caught in the client, so one bad value never costs a batch."""
from helpers import ServerTestCase

from myelin import MyelinError, tracking


class ValidationTest(ServerTestCase):
    def test_bad_points_are_skipped_and_the_rest_of_the_batch_arrives(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        with self.assertLogs("myelin", "WARNING") as logs:
            r.log_metrics(step=-1, loss=1.0)
            r.log_metrics(step="x", loss=1.0)
            r.log_metric("n" * 251, 1.0, step=1)
            r.log_metrics(step=2, loss=2.0)
            r.log_metric("val/loss", 3.0, step=2)
        self.assertTrue(r.flush(5))
        self.assertEqual(sorted((p["name"], p["step"]) for p in run.points()), [("loss", 2), ("val/loss", 2)])
        self.assertEqual(len(logs.output), 2)  # one warning per kind of problem (step, that name)

    def test_long_lines_and_tracebacks_are_cut(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r.log_line("x" * 200000)
        self.assertTrue(r.flush(5))
        self.assertEqual(len(run.lines()[0]["line"]), 100000)
        external = self.laptop_run()
        external.log_failed("boom" * 5000, traceback="frame\n" * 50000 + "ValueError: the end")
        self.assertTrue(external.flush(5))
        body = self.server.runs[external.run_uuid].statuses[0][0]
        self.assertEqual(len(body["message"]), 10000)
        self.assertEqual(len(body["traceback"]), 100000)
        self.assertTrue(body["traceback"].endswith("ValueError: the end"))

    def test_run_names_and_tags_are_checked_at_creation(self):
        with self.assertRaises(MyelinError) as raised:
            self.laptop_run(name="my run")
        self.assertIn("my run", str(raised.exception))
        self.assertEqual(self.server.runs, {})
        tags = ["t%d" % i for i in range(120)] + ["", "y" * 101]
        r = self.laptop_run(name="ok-name_1.0", tags=tags)
        self.assertTrue(r.flush(5))
        run = self.server.only_run()
        self.assertEqual(run.creation["tags"], tags[:50])
        self.assertEqual(run.tags, tags[:120])
        with self.assertRaises(ValueError):
            r.log_status("exploded")
