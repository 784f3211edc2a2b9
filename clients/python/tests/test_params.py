"""Params are write-once: conflicts reach the caller; outages do not."""
import time

from helpers import ServerTestCase

from myelin import MyelinError, tracking


class ParamsTest(ServerTestCase):
    def test_params_are_stored_synchronously(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r.log_params(lr=0.1, layers=[64, 32], name="resnet")
        self.assertEqual(run.params, {"lr": 0.1, "layers": [64, 32], "name": "resnet"})  # no flush needed
        r.log_params({"lr": 0.1, "eps": float("nan")})  # the same value again is fine
        self.assertEqual(run.params["eps"], "NaN")

    def test_a_conflict_raises_with_both_values(self):
        run, env = self.job_environ()
        run.params["lr"] = 0.1  # logged earlier, e.g. by another process of the run
        r = self.track(tracking.Run(environ=env))
        with self.assertRaises(MyelinError) as raised:
            r.log_params(lr=0.2, batch=32)
        message = str(raised.exception)
        self.assertIn("'lr'", message)
        self.assertIn("0.1", message)
        self.assertIn("0.2", message)
        self.assertEqual(raised.exception.status, 409)
        self.assertEqual(run.params, {"lr": 0.1})  # the server stored nothing of that request

    def test_a_conflict_with_a_value_this_process_logged_raises_without_asking_the_server(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r.log_params(lr=0.1)
        posts = len(self.server.paths("POST"))
        with self.assertRaises(MyelinError) as raised:
            r.log_params(lr=0.3)
        self.assertIn("0.1", str(raised.exception))
        self.assertIn("0.3", str(raised.exception))
        self.assertEqual(len(self.server.paths("POST")), posts)

    def test_params_logged_while_the_server_is_down_are_queued_and_delivered_later(self):
        run, env = self.job_environ()
        self.server.stop()
        r = self.track(tracking.Run(environ=env))
        started = time.monotonic()
        r.log_params(lr=0.5)  # no exception
        self.assertLess(time.monotonic() - started, 3)
        self.server.start()
        self.assertTrue(r.flush(10))
        self.assertEqual(run.params, {"lr": 0.5})

    def test_a_queued_param_that_conflicts_later_is_a_warning(self):
        run, env = self.job_environ()
        run.params["lr"] = 0.1
        self.server.stop()
        r = self.track(tracking.Run(environ=env))
        r.log_params(lr=0.9)
        self.server.start()
        with self.assertLogs("myelin", "WARNING") as logs:
            self.assertTrue(r.flush(10))
        self.assertTrue(any("0.1" in line and "0.9" in line for line in logs.output), logs.output)
        self.assertEqual(run.params, {"lr": 0.1})

    def test_get_params_reads_the_job_environment(self):
        _, env = self.job_environ(MYELIN_PARAMS='{"lr": 0.05, "epochs": 3}')
        r = self.track(tracking.Run(environ=env))
        self.assertEqual(r.get_params(), {"lr": 0.05, "epochs": 3})
        del env["MYELIN_PARAMS"]
        env["POLYAXON_PARAMS"] = '{"lr": 0.01}'
        self.assertEqual(self.track(tracking.Run(environ=env)).get_params(), {"lr": 0.01})
