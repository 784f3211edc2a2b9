"""log_outputs: the values a pipeline passes from an op to the ops after it (outputs.json)."""
import json
import os

from helpers import ServerTestCase, clean_environ

from myelin import tracking


class OutputsTest(ServerTestCase):
    def test_inside_a_job_they_are_merged_into_outputs_json_with_their_types(self):
        outputs = os.path.join(self.tmp, "outputs")
        os.makedirs(outputs)
        # Written by hand earlier in the same job: kept.
        with open(os.path.join(outputs, "outputs.json"), "w") as f:
            json.dump({"written": "by hand"}, f)
        run, env = self.job_environ(outputs=outputs)
        r = self.track(tracking.Run(environ=env))
        r.log_outputs(rows=500, ratio=0.25)
        got = r.log_outputs(rows=600, model="s3://bucket/m", layers=[64, 32], ok=True, loss=float("nan"))
        with open(os.path.join(outputs, "outputs.json")) as f:
            written = json.load(f)
        expected = {"written": "by hand", "rows": 600, "ratio": 0.25, "model": "s3://bucket/m", "layers": [64, 32], "ok": True, "loss": "NaN"}
        self.assertEqual(written, expected)
        self.assertEqual(got, expected)
        self.assertEqual([n for n in os.listdir(outputs) if n.endswith(".partial")], [])  # nothing left half-written
        self.assertTrue(r.flush(5))
        self.assertFalse(any("outputs/file" in p for p in self.server.paths()))

    def test_in_a_pod_whose_outputs_folder_dies_with_it_they_are_also_uploaded(self):
        # A Kubernetes pod without an outputs claim (MYELIN_OUTPUTS_EPHEMERAL): the file is written
        # for the job, and the merged set uploaded, so the ops after this one can read it.
        outputs = os.path.join(self.tmp, "outputs")
        os.makedirs(outputs)
        with open(os.path.join(outputs, "outputs.json"), "w") as f:
            json.dump({"written": "by hand"}, f)
        run, env = self.job_environ(outputs=outputs, MYELIN_OUTPUTS_EPHEMERAL="true")
        r = self.track(tracking.Run(environ=env))
        r.log_outputs(rows=500)
        r.log_outputs(model="m")
        self.assertTrue(r.flush(10))
        expected = {"written": "by hand", "rows": 500, "model": "m"}
        with open(os.path.join(outputs, "outputs.json")) as f:
            self.assertEqual(json.load(f), expected)
        self.assertEqual(json.loads(run.files["outputs.json"]), expected)

    def test_names_a_pipeline_cannot_refer_to_are_refused(self):
        run, env = self.job_environ(outputs=os.path.join(self.tmp, "outputs"))
        r = self.track(tracking.Run(environ=env))
        for bad in ({"": 1}, {"a.b": 1}, {"with space": 1}, {"x" * 201: 1}):
            with self.assertRaises(ValueError):
                r.log_outputs(**bad)

    def test_a_run_from_outside_uploads_the_whole_set_as_outputs_json(self):
        r = self.laptop_run()
        r.log_outputs(rows=500)
        r.log_outputs(model="m")
        self.assertTrue(r.flush(10))
        self.assertEqual(json.loads(self.server.only_run().files["outputs.json"]), {"rows": 500, "model": "m"})

    def test_a_no_op_run_writes_nothing(self):
        outputs = os.path.join(self.tmp, "outputs")
        os.makedirs(outputs)
        r = tracking.Run(environ=clean_environ(MYELIN_NO_OP="1", MYELIN_OUTPUTS_PATH=outputs))
        self.assertEqual(r.log_outputs(rows=1), {})
        self.assertEqual(os.listdir(outputs), [])
