"""The least-privilege checker fails on a grant no call used, and only then."""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import iam_usage  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/rwt-1-InboundMailFunctionRole"


def policy(*actions):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


class Checker(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.template = os.path.join(self.dir, "template.yaml")
        open(self.template, "w").close()

    def run_(self, grants, calls, allow=None, template=None, pid="1"):
        roles = {"template": template or self.template, "stack": "rwt-1",
                 "roles": {ROLE: {"logical_ids": ["InboundMailFunction", "InboundMailFunctionRole"],
                                  "policies": [policy(*grants)]}}}
        json.dump(roles, open(os.path.join(self.dir, f"roles-{pid}.json"), "w"))
        with open(os.path.join(self.dir, f"calls-{pid}.jsonl"), "w") as f:
            for action, allowed in calls:
                f.write(json.dumps({"principal": ROLE, "action": action, "resource": "arn:x",
                                    "allowed": allowed}) + "\n")
        args = [self.dir, "--template", self.template, "--allowlist", ""]
        if allow is not None:
            path = os.path.join(self.dir, "allow.yaml")
            with open(path, "w") as f:
                for role, action, reason in allow:
                    f.write(f"- role: {role}\n  action: {action}\n  reason: {reason}\n")
            args[-1] = path
        err = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            code = iam_usage.main(args)
        return code, err.getvalue()

    def test_every_grant_used_passes(self):
        code, _ = self.run_(["dynamodb:PutItem", "kms:Describe*"],
                            [("dynamodb:PutItem", True), ("kms:DescribeKey", True)])
        self.assertEqual(code, 0)

    def test_an_unused_grant_fails_and_names_role_and_action(self):
        code, err = self.run_(["dynamodb:PutItem", "dynamodb:DeleteItem"], [("dynamodb:PutItem", True)])
        self.assertEqual(code, 1)
        self.assertIn("InboundMailFunctionRole is granted dynamodb:DeleteItem", err)

    def test_a_denied_call_is_not_use(self):
        code, _ = self.run_(["dynamodb:DeleteItem"], [("dynamodb:DeleteItem", False)])
        self.assertEqual(code, 1)

    def test_allow_list_needs_a_reason_and_excuses_the_grant(self):
        code, _ = self.run_(["logs:PutLogEvents"], [],
                            allow=[("InboundMailFunctionRole", "logs:PutLogEvents", "the runtime writes logs")])
        self.assertEqual(code, 0)
        with self.assertRaises(SystemExit):
            self.run_(["logs:PutLogEvents"], [], allow=[("InboundMailFunctionRole", "logs:PutLogEvents", "")])

    def test_an_allow_listed_grant_that_was_used_fails(self):
        code, err = self.run_(["lambda:InvokeFunction"], [("lambda:InvokeFunction", True)],
                              allow=[("InboundMailFunctionRole", "lambda:InvokeFunction", "the service does it")])
        self.assertEqual(code, 1)
        self.assertIn("remove the entry", err)

    def test_runs_of_another_template_do_not_count(self):
        code, _ = self.run_(["dynamodb:PutItem"], [("dynamodb:PutItem", True)], template="/elsewhere.yaml")
        self.assertEqual(code, 2)


if __name__ == "__main__":
    unittest.main()
