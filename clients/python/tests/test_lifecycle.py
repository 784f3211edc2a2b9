"""Ends of a process other than a plain return: SIGTERM, Ctrl-C, a forked child."""
import collections
import os
import signal
import sys
import unittest

from helpers import USER_TOKEN, ServerTestCase, clean_environ, run_script, start_script


class LifecycleTest(ServerTestCase):
    def laptop_env(self):
        return clean_environ(MYELIN_HOST=self.server.url, MYELIN_TOKEN=USER_TOKEN, MYELIN_FLUSH_TIMEOUT="5")

    @unittest.skipUnless(hasattr(signal, "SIGTERM") and sys.platform != "win32", "POSIX signals")
    def test_sigterm_flushes_the_buffer_and_an_external_run_ends_stopped(self):
        child = start_script(
            """
            import time
            from myelin import tracking
            run = tracking.Run(project="alice/vision", track_env=False, track_code=False)
            for step in range(100):
                run.log_metrics(step=step, loss=1.0)
            print("ready", flush=True)
            time.sleep(30)
            """,
            dict(self.laptop_env(), MYELIN_FLUSH_INTERVAL="60"),  # only the exit flush can deliver
        )
        self.assertEqual(child.stdout.readline().strip(), "ready")
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=20)
        self.assertEqual(child.returncode, 143, stderr)
        run = self.server.only_run()
        self.assertEqual(len(run.points()), 100)
        self.assertEqual([b["status"] for b, _ in run.statuses], ["stopped"])

    def test_ctrl_c_ends_an_external_run_stopped(self):
        script = run_script(
            """
            from myelin import tracking
            run = tracking.Run(project="alice/vision", track_env=False, track_code=False)
            raise KeyboardInterrupt
            """,
            self.laptop_env(),
        )
        self.assertNotEqual(script.returncode, 0)
        self.assertEqual([b["status"] for b, _ in self.server.only_run().statuses], ["stopped"])

    @unittest.skipUnless(hasattr(os, "fork"), "os.fork")
    def test_a_forked_child_sends_its_own_points_and_never_the_status(self):
        script = run_script(
            """
            import os
            from myelin import tracking
            run = tracking.Run(project="alice/vision", track_env=False, track_code=False)
            for step in range(50):
                run.log_metrics(step=step, parent=1.0)
            pid = os.fork()
            if pid == 0:
                for step in range(20):
                    run.log_metrics(step=step, child=1.0)
                raise SystemExit(0)  # a normal exit: the child's atexit runs
            os.waitpid(pid, 0)
            for step in range(50, 60):
                run.log_metrics(step=step, parent=1.0)
            """,
            self.laptop_env(),
        )
        self.assertEqual(script.returncode, 0, script.stderr)
        run = self.server.only_run()
        counts = collections.Counter((p["name"], p["step"]) for p in run.points())
        self.assertEqual(len(counts), 80)
        self.assertEqual(set(counts.values()), {1})
        self.assertEqual([b["status"] for b, _ in run.statuses], ["succeeded"])
