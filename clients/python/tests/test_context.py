"""Code ref, environment, data refs, tags and logs."""
import hashlib
import os
import shutil
import subprocess
import unittest

from helpers import ServerTestCase

from myelin import tracking
from myelin._context import strip_credentials


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class ContextTest(ServerTestCase):
    @unittest.skipUnless(shutil.which("git"), "git is not installed")
    def test_code_ref_from_a_git_repository(self):
        repo = os.path.join(self.tmp, "repo")
        os.makedirs(repo)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "remote", "add", "origin", "https://bob:s3cret@example.com/bob/repo.git")
        with open(os.path.join(repo, "train.py"), "w") as f:
            f.write("print(1)\n")
        git(repo, "add", "train.py")
        git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "first")
        with open(os.path.join(repo, "train.py"), "a") as f:
            f.write("print(2)\n")
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, stdout=subprocess.PIPE, text=True).stdout.strip()
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r.log_code_ref(repo)
        self.assertTrue(r.flush(5))
        self.assertEqual(
            run.code_ref, {"commit": commit, "branch": "main", "dirty": True, "remote": "https://example.com/bob/repo.git"}
        )

    def test_code_ref_outside_a_repository_is_skipped(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        self.assertIsNone(r.log_code_ref(self.tmp))
        self.assertTrue(r.flush(5))
        self.assertIsNone(run.code_ref)
        self.assertFalse(any(p.endswith("code-ref") for p in self.server.paths()))

    def test_strip_credentials(self):
        self.assertEqual(strip_credentials("https://u:p@h/x.git"), "https://h/x.git")
        self.assertEqual(strip_credentials("git@github.com:o/r.git"), "git@github.com:o/r.git")

    def test_run_env(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r.log_run_env()
        self.assertTrue(r.flush(5))
        import platform

        self.assertEqual(run.environment["python"], platform.python_version())
        self.assertIn("pip", {k.lower() for k in run.environment["packages"]})
        self.assertTrue(run.environment["host"])

    def test_data_refs_hash_content(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        data_file = os.path.join(self.tmp, "train.csv")
        with open(data_file, "wb") as f:
            f.write(b"x,y\n1,2\n")
        r.log_data_ref("train", path=data_file)
        r.log_data_ref("inline", data="hello")
        r.log_data_ref(data=b"raw", data_name="polyaxon-style")
        r.log_data_ref("given", hash="abc123")
        self.assertTrue(r.flush(5))
        sha = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()  # noqa: E731
        self.assertEqual(
            run.data_refs,
            [
                {"name": "train", "hash": sha(b"x,y\n1,2\n"), "path": data_file},
                {"name": "inline", "hash": sha(b"hello")},
                {"name": "polyaxon-style", "hash": sha(b"raw")},
                {"name": "given", "hash": "abc123"},
            ],
        )
        with self.assertRaises(ValueError):
            r.log_data_ref("nothing")

    def test_tags_and_log_lines(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        r.log_tags(["a", "b"])
        r.log_tags("c")
        r.log_text("first\nsecond")
        r.log_line("oops", stream="stderr")
        self.assertTrue(r.flush(5))
        self.assertEqual(run.tags, ["a", "b", "c"])
        self.assertEqual([(l["line"], l["stream"]) for l in run.lines()], [("first", "stdout"), ("second", "stdout"), ("oops", "stderr")])
