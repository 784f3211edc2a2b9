"""Which run a script tracks, and how a run created from outside ends."""
import json
import os

from helpers import USER_TOKEN, ServerTestCase, clean_environ, run_script

from myelin import MyelinError, tracking


class ExternalRunTest(ServerTestCase):
    def laptop_env(self, **extra):
        values = {"MYELIN_HOST": self.server.url, "MYELIN_TOKEN": USER_TOKEN, "MYELIN_FLUSH_TIMEOUT": "5"}
        values.update(extra)
        return clean_environ(**values)

    def test_a_created_run_reports_succeeded_at_exit_after_its_metrics(self):
        script = run_script(
            """
            from myelin import tracking
            run = tracking.Run(project="alice/vision", name="baseline", tags=["cnn"], params={"lr": 0.1})
            print(run.run_uuid)
            for step in range(300):
                run.log_metrics(step=step, loss=1.0)
            """,
            self.laptop_env(),
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        run = self.server.only_run()
        self.assertEqual(script.stdout.strip(), run.uuid)
        self.assertEqual(run.project, "alice/vision")
        self.assertEqual(run.creation, {"name": "baseline", "tags": ["cnn"], "params": {"lr": 0.1}})
        self.assertEqual(len(run.points()), 300)
        self.assertEqual(len(run.statuses), 1)
        body, points_before = run.statuses[0]
        self.assertEqual(body, {"status": "succeeded"})
        self.assertEqual(points_before, 300)  # the status came after every point
        self.assertEqual(run.environment["python"].count("."), 2)  # track_env by default

    def test_an_uncaught_exception_reports_failed_with_the_traceback(self):
        script = run_script(
            """
            from myelin import tracking
            run = tracking.Run(project="alice/vision")
            run.log_metrics(step=1, loss=1.0)
            def train():
                raise ValueError("loss exploded")
            train()
            """,
            self.laptop_env(),
        )
        self.assertEqual(script.returncode, 1)
        self.assertIn("ValueError: loss exploded", script.stderr)  # the usual traceback still printed
        run = self.server.only_run()
        self.assertEqual(len(run.statuses), 1)
        body, _ = run.statuses[0]
        self.assertEqual(body["status"], "failed")
        self.assertEqual(body["message"], "ValueError: loss exploded")
        self.assertIn("Traceback (most recent call last)", body["traceback"])
        self.assertIn("in train", body["traceback"])
        self.assertEqual(len(run.points()), 1)

    def test_a_status_reported_by_the_user_is_not_overridden(self):
        script = run_script(
            """
            from myelin import tracking
            run = tracking.Run(project="alice/vision")
            run.log_stopped("early stopping")
            """,
            self.laptop_env(),
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        self.assertEqual([b for b, _ in self.server.only_run().statuses], [{"status": "stopped", "message": "early stopping"}])

    def test_a_with_block_reports_a_failing_sys_exit(self):
        script = run_script(
            """
            import sys
            from myelin import tracking
            with tracking.Run(project="alice/vision", track_env=False, track_code=False):
                sys.exit(3)
            """,
            self.laptop_env(),
        )
        self.assertEqual(script.returncode, 3)
        statuses = [b["status"] for b, _ in self.server.only_run().statuses]
        self.assertEqual(statuses, ["failed"])

    def test_a_bad_token_raises_at_creation(self):
        env = self.laptop_env(MYELIN_TOKEN="nope")
        with self.assertRaises(MyelinError) as raised:
            tracking.Run(project="alice/vision", environ=env)
        self.assertEqual(raised.exception.status, 401)
        self.assertNotIn("nope", str(raised.exception))
        with self.assertRaises(MyelinError):
            tracking.Run(project="no-owner", environ=env)

    def test_a_run_created_while_the_server_is_down_is_created_when_it_is_back(self):
        self.server.stop()
        r = self.track(tracking.Run(project="alice/vision", environ=self.laptop_env(), track_env=False))
        self.assertIsNone(r.run_uuid)
        r.log_metrics(step=1, loss=2.0)
        r.log_params(lr=0.3)
        self.server.start()
        self.assertTrue(r.end("succeeded", timeout=10))
        run = self.server.only_run()
        self.assertEqual(r.run_uuid, run.uuid)
        self.assertEqual(len(run.points()), 1)
        self.assertEqual(run.params, {"lr": 0.3})
        self.assertEqual(run.statuses[0][0]["status"], "succeeded")

    def test_polyaxon_experiment_creates_at_create(self):
        env = self.laptop_env()
        experiment = self.track(tracking.Experiment(project="alice/vision", environ=env, track_env=False))
        self.assertEqual(self.server.runs, {})
        experiment.create(name="exp", tags=["a"])
        run = self.server.only_run()
        self.assertEqual(run.creation, {"name": "exp", "tags": ["a"]})
        self.assertEqual(experiment.experiment_uuid, run.uuid)
        self.assertIsInstance(experiment, tracking.Run)


    def test_an_experiment_never_created_nor_used_creates_nothing(self):
        script = run_script(
            """
            from myelin import tracking
            experiment = tracking.Experiment(project="alice/vision")
            """,
            self.laptop_env(),
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        self.assertEqual(self.server.requests, [])

    def test_tags_given_as_one_string(self):
        r = self.track(tracking.Run(project="alice/vision", tags="cnn", environ=self.laptop_env(), track_env=False))
        self.assertEqual(self.server.only_run().creation, {"tags": ["cnn"]})
        self.assertEqual(r.mode, "created")


class JobRunTest(ServerTestCase):
    def test_inside_a_job_the_status_is_left_to_the_scheduler(self):
        run, env = self.job_environ()
        script = run_script(
            """
            from myelin import tracking
            run = tracking.Run()
            run.log_tags("a", ["b", "c"])
            run.log_succeeded()
            raise SystemExit(0)
            """,
            env,
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        self.assertEqual(run.statuses, [])
        self.assertEqual(run.tags, ["a", "b", "c"])
        self.assertFalse(any(p.endswith("/status") for p in self.server.paths()))

    def test_polyaxon_variables_are_enough(self):
        run = self.server.add_run(token="px-token")
        outputs = os.path.join(self.tmp, "out")
        env = clean_environ(
            POLYAXON_EXPERIMENT_INFO=json.dumps({"experiment_uuid": run.uuid}),
            POLYAXON_SECRET_USER_TOKEN="px-token",
            POLYAXON_API_HTTP_HOST=self.server.url,
            POLYAXON_RUN_OUTPUTS_PATH=outputs,
            POLYAXON_PARAMS='{"lr": 0.2}',
            POLYAXON_RUN_DATA_PATHS='{"mnist": "/data/mnist"}',
        )
        r = self.track(tracking.Experiment(environ=env))
        self.assertEqual((r.mode, r.run_uuid), ("job", run.uuid))
        self.assertEqual(r.get_outputs_path(), outputs)
        self.assertEqual(r.get_params(), {"lr": 0.2})
        self.assertEqual(r.get_data_paths(), {"mnist": "/data/mnist"})
        r.log_metrics(step=1, loss=0.5)
        self.assertTrue(r.flush(5))
        self.assertEqual(len(run.points()), 1)

    def test_module_helpers_read_the_environment(self):
        script = run_script(
            """
            from myelin import tracking
            print(tracking.get_outputs_path(), tracking.get_params(), tracking.get_data_paths())
            print(tracking.get_log_level(), tracking.get_task_info(), tracking.get_cluster_def())
            """,
            clean_environ(
                MYELIN_OUTPUTS_PATH="/o",
                MYELIN_PARAMS='{"a": 1}',
                POLYAXON_RUN_DATA_PATHS='{"d": "/d"}',
                POLYAXON_LOG_LEVEL="INFO",
                POLYAXON_TASK_INFO='{"type": "master", "index": 0}',
            ),
        )
        self.assertEqual(
            script.stdout.splitlines(), ["/o {'a': 1} {'d': '/d'}", "INFO {'type': 'master', 'index': 0} None"]
        )


class NoOpTest(ServerTestCase):
    def test_no_op_makes_no_request_and_starts_no_thread(self):
        _, env = self.job_environ(POLYAXON_NO_OP="true")
        artifact = os.path.join(self.tmp, "model.bin")
        with open(artifact, "wb") as f:
            f.write(b"weights")
        script = run_script(
            """
            import threading
            from myelin import tracking
            run = tracking.Run(project="alice/vision")
            run.log_params(lr=0.1)
            run.log_metrics(step=1, loss=1.0)
            run.log_tags("a")
            run.log_artifact(%r)
            run.log_code_ref(); run.log_run_env(); run.log_data_ref("d", data=b"x"); run.log_failed("x")
            assert run.is_no_op and threading.active_count() == 1, threading.enumerate()
            print("ok")
            """
            % artifact,
            env,
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        self.assertEqual(script.stdout.strip(), "ok")
        self.assertEqual(self.server.requests, [])

    def test_myelin_no_op_values(self):
        _, env = self.job_environ()
        for value, expected in (("1", True), ("yes", True), ("TRUE", True), ("0", False), ("", False)):
            env["MYELIN_NO_OP"] = value
            r = self.track(tracking.Run(environ=env))
            self.assertEqual(r.is_no_op, expected, value)
            r.log_metrics(step=1, loss=1.0)
            r.flush(5)
        self.assertEqual(len(self.server.paths("POST")), 2)  # only the two runs that were not no-op

    def test_outside_a_job_without_a_project_it_is_a_no_op_with_one_warning(self):
        script = run_script(
            """
            from myelin import tracking
            a = tracking.Run(); b = tracking.Run()
            a.log_metrics(step=1, loss=1.0)
            print(a.is_no_op, b.is_no_op)
            """,
            clean_environ(MYELIN_HOST=self.server.url),
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        self.assertEqual(script.stdout.strip(), "True True")
        self.assertEqual(script.stderr.count("no run to track"), 1)
        self.assertEqual(self.server.requests, [])
