"""scripts/run_tests.py never reports a pass for a test binary it did not run."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

RUNNER = os.path.join(os.path.dirname(__file__), "..", "run_tests.py")


class Runner(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def script(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        return path

    def run_with(self, executables):
        """Run the runner against a fake cargo that lists these test executables."""
        messages = [json.dumps({
            "reason": "compiler-artifact", "executable": exe, "profile": {"test": True},
            "target": {"name": f"t{i}", "kind": ["test"]},
            "manifest_path": os.path.join(self.dir, "Cargo.toml"),
        }) for i, exe in enumerate(executables)]
        listing = os.path.join(self.dir, "listing.json")
        with open(listing, "w") as f:
            f.write("\n".join(messages) + "\n")
        cargo = self.script("cargo", f"cat '{listing}'")
        env = dict(os.environ, CARGO=cargo)
        return subprocess.run([sys.executable, os.path.abspath(RUNNER), "--jobs", "2"], cwd=self.dir,
                              env=env, capture_output=True, text=True)

    def test_all_passing_binaries_pass(self):
        ok = self.script("ok", 'echo "test result: ok. 3 passed"')
        done = self.run_with([ok, ok])
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertEqual(done.stdout.count("test result: ok. 3 passed"), 2)

    def test_a_failing_binary_fails_the_run_and_the_others_still_run(self):
        ok = self.script("ok", 'echo "test result: ok. 1 passed"')
        bad = self.script("bad", 'echo "assertion failed: left == right"; exit 101')
        done = self.run_with([bad, ok])
        self.assertEqual(done.returncode, 1)
        self.assertIn("assertion failed", done.stdout)
        self.assertIn("test result: ok. 1 passed", done.stdout)

    def test_a_binary_that_cannot_start_fails_the_run(self):
        ok = self.script("ok", 'echo "test result: ok. 1 passed"')
        missing = os.path.join(self.dir, "gone")
        done = self.run_with([missing, ok, ok])
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("not run: FileNotFoundError", done.stdout)
        self.assertEqual(done.stdout.count("test result: ok. 1 passed"), 2)

    def test_no_binary_at_all_is_an_error(self):
        done = self.run_with([])
        self.assertEqual(done.returncode, 1)
        self.assertIn("nothing was tested", done.stderr)


if __name__ == "__main__":
    unittest.main()
