"""log_artifact: a copy into a local outputs folder, else a streamed upload."""
import hashlib
import os
import tracemalloc

from helpers import ServerTestCase

from myelin import tracking


class ArtifactTest(ServerTestCase):
    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_inside_a_job_with_a_local_outputs_folder_the_file_is_copied(self):
        outputs = os.path.join(self.tmp, "outputs")
        os.makedirs(outputs)
        run, env = self.job_environ(outputs=outputs)
        r = self.track(tracking.Run(environ=env))
        model = self.write("model.bin", b"weights")
        self.assertEqual(r.log_artifact(model), os.path.join(outputs, "model.bin"))
        r.log_artifact(model, name="checkpoints/epoch-3.bin")
        with open(os.path.join(outputs, "checkpoints", "epoch-3.bin"), "rb") as f:
            self.assertEqual(f.read(), b"weights")
        self.assertEqual(r.log_artifact(os.path.join(outputs, "model.bin")), os.path.join(outputs, "model.bin"))  # itself
        self.assertTrue(r.flush(5))
        self.assertFalse(any("outputs/file" in p for p in self.server.paths()))
        self.assertEqual(run.files, {})

    def test_inside_a_pod_whose_outputs_folder_dies_with_it_the_file_is_uploaded(self):
        outputs = os.path.join(self.tmp, "outputs")
        os.makedirs(outputs)
        run, env = self.job_environ(outputs=outputs, MYELIN_OUTPUTS_EPHEMERAL="1")
        r = self.track(tracking.Run(environ=env))
        self.assertEqual(r.log_artifact(self.write("model.bin", b"weights"), name="checkpoints/m.bin"), "checkpoints/m.bin")
        self.assertTrue(r.flush(5))
        self.assertEqual(run.files["checkpoints/m.bin"], b"weights")
        self.assertEqual(os.listdir(outputs), [])  # not copied to a folder that will not be kept

    def test_without_a_local_outputs_folder_the_file_is_streamed_with_a_content_length(self):
        run, env = self.job_environ(outputs=os.path.join(self.tmp, "not-here"))
        r = self.track(tracking.Run(environ=env))
        big = self.write("big.bin", os.urandom(1024) * (20 * 1024))  # 20 MiB
        tracemalloc.start()
        try:
            r.log_artifact(big, name="data/big.bin")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 4 * 1024 * 1024)  # never the whole file in memory
        with open(big, "rb") as f:
            self.assertEqual(run.files["data/big.bin"], (20 * 1024 * 1024, hashlib.sha256(f.read()).hexdigest()))
        headers = run.upload_headers["data/big.bin"]
        self.assertEqual(headers["Content-Length"], str(20 * 1024 * 1024))
        self.assertNotIn("Transfer-Encoding", headers)

    def test_log_artifacts_keeps_relative_paths(self):
        r = self.laptop_run()
        self.write("folder/a.txt", b"a")
        self.write("folder/sub/b.txt", b"b")
        r.log_artifacts(os.path.join(self.tmp, "folder"), name="results")
        self.assertEqual(self.server.only_run().files, {"results/a.txt": b"a", "results/sub/b.txt": b"b"})

    def test_an_upload_while_the_server_is_down_is_queued(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        model = self.write("model.bin", b"weights")
        self.server.stop()
        r.log_artifact(model)
        self.server.start()
        self.assertTrue(r.flush(10))
        self.assertEqual(run.files, {"model.bin": b"weights"})

    def test_paths_outside_the_outputs_are_refused(self):
        run, env = self.job_environ()
        r = self.track(tracking.Run(environ=env))
        model = self.write("model.bin", b"weights")
        with self.assertRaises(ValueError):
            r.log_artifact(model, name="../escape.bin")
        with self.assertRaises(FileNotFoundError):
            r.log_artifact(os.path.join(self.tmp, "missing.bin"))
