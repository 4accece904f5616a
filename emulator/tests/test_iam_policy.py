"""Unit tests of the IAM policy evaluator (rootwarden_ext/iam/policy.py).

    .venv/bin/python -m unittest discover -s emulator/tests
"""
from __future__ import annotations

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rootwarden_ext.iam.policy import (  # noqa: E402
    Caller,
    arn_like,
    authorize,
    evaluate_identity,
    glob,
    parse_policy,
)

ACCT = "123456789012"
USER = Caller(f"arn:aws:iam::{ACCT}:user/alice", f"arn:aws:iam::{ACCT}:user/alice", ACCT, "user")
ROLE = Caller(f"arn:aws:sts::{ACCT}:assumed-role/worker/s1", f"arn:aws:iam::{ACCT}:role/worker", ACCT, "role")
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/A"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234"


def pol(*statements: dict) -> object:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ctx(**kv) -> dict:
    return {k.replace("__", ":").lower(): tuple(v) if isinstance(v, (list, tuple)) else (v,)
            for k, v in kv.items()}


def ident(policies, action, resource="*", c=None) -> str | None:
    return evaluate_identity(policies, action, resource, c or {})


class Wildcards(unittest.TestCase):
    def test_action_case_insensitive_resource_case_sensitive(self):
        self.assertTrue(glob("dynamodb:get*", "DynamoDB:GetItem", ci=True))
        self.assertFalse(glob("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x"))
        self.assertTrue(glob("arn:aws:s3:::b/?", "arn:aws:s3:::b/x"))
        self.assertFalse(glob("arn:aws:s3:::b/?", "arn:aws:s3:::b/xy"))

    def test_regex_characters_are_literal(self):
        self.assertTrue(glob("arn:aws:s3:::b/a+b(1).txt", "arn:aws:s3:::b/a+b(1).txt"))
        self.assertFalse(glob("arn:aws:s3:::b/a.b", "arn:aws:s3:::b/aXb"))

    def test_arn_like_matches_segments(self):
        self.assertTrue(arn_like("arn:aws:iam::*:root", "arn:aws:iam::111122223333:root"))
        self.assertFalse(arn_like("arn:aws:iam::*:root", "arn:aws:iam::1:role/root"))
        self.assertTrue(arn_like("arn:aws:states:*:*:execution:sm:*", "arn:aws:states:us-east-1:1:execution:sm:e1"))


class IdentityPolicies(unittest.TestCase):
    def test_implicit_deny(self):
        self.assertIsNone(ident([pol(allow("dynamodb:GetItem", TABLE))], "dynamodb:PutItem", TABLE))
        self.assertIsNone(ident([pol(allow("dynamodb:GetItem", TABLE))], "dynamodb:GetItem", TABLE + "x"))

    def test_allow(self):
        self.assertEqual(ident([pol(allow(["dynamodb:GetItem", "dynamodb:Query"], [TABLE]))],
                               "dynamodb:Query", TABLE), "Allow")

    def test_deny_precedence_across_policies(self):
        p1 = pol(allow("*"))
        p2 = pol(deny("dynamodb:Delete*", TABLE))
        self.assertEqual(ident([p1, p2], "dynamodb:DeleteItem", TABLE), "Deny")
        self.assertEqual(ident([p2, p1], "dynamodb:DeleteItem", TABLE), "Deny")
        self.assertEqual(ident([p1, p2], "dynamodb:GetItem", TABLE), "Allow")

    def test_not_action(self):
        p = pol({"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"})
        self.assertEqual(ident([p], "dynamodb:GetItem", TABLE), "Allow")
        self.assertIsNone(ident([p], "iam:CreateUser", "*"))
        d = pol(allow("*"), {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"})
        self.assertEqual(ident([d], "s3:PutObject", "arn:aws:s3:::b/k"), "Deny")
        self.assertEqual(ident([d], "s3:GetObject", "arn:aws:s3:::b/k"), "Allow")

    def test_not_resource(self):
        p = pol({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})
        self.assertEqual(ident([p], "s3:GetObject", "arn:aws:s3:::open/k"), "Allow")
        self.assertIsNone(ident([p], "s3:GetObject", "arn:aws:s3:::secret/k"))

    def test_unparseable_document_denies(self):
        self.assertEqual(evaluate_identity([parse_policy("{not json")], "s3:GetObject", "*", {}), "Deny")

    def test_unknown_operator_fails_closed(self):
        a = pol(allow("*", Condition={"StringEqualsMaybe": {"aws:username": "alice"}}))
        self.assertIsNone(ident([a], "s3:GetObject"))
        d = pol(allow("*"), deny("s3:*", Condition={"StringEqualsMaybe": {"aws:username": "x"}}))
        self.assertEqual(ident([d], "s3:GetObject"), "Deny")


class Conditions(unittest.TestCase):
    def check(self, cond: dict, c: dict) -> bool:
        return ident([pol(allow("*", Condition=cond))], "s3:GetObject", "*", c) == "Allow"

    def test_string_operators(self):
        self.assertTrue(self.check({"StringEquals": {"aws:username": "alice"}}, ctx(aws__username="alice")))
        self.assertFalse(self.check({"StringEquals": {"aws:username": "alice"}}, ctx(aws__username="Alice")))
        self.assertTrue(self.check({"StringEqualsIgnoreCase": {"aws:username": "alice"}}, ctx(aws__username="ALICE")))
        self.assertTrue(self.check({"StringLike": {"s3:prefix": "home/*"}}, ctx(s3__prefix="home/a")))
        self.assertFalse(self.check({"StringNotLike": {"s3:prefix": "home/*"}}, ctx(s3__prefix="home/a")))
        self.assertTrue(self.check({"StringNotEquals": {"aws:username": "bob"}}, ctx(aws__username="alice")))

    def test_multiple_values_or_multiple_keys_and(self):
        cond = {"StringEquals": {"aws:username": ["bob", "alice"], "aws:PrincipalAccount": ACCT}}
        self.assertTrue(self.check(cond, ctx(aws__username="alice", aws__principalaccount=ACCT)))
        self.assertFalse(self.check(cond, ctx(aws__username="alice", aws__principalaccount="1")))
        two_ops = {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}}
        self.assertTrue(self.check(two_ops, ctx(aws__username="alice", aws__securetransport="true")))
        self.assertFalse(self.check(two_ops, ctx(aws__username="alice", aws__securetransport="false")))

    def test_condition_keys_case_insensitive(self):
        self.assertTrue(self.check({"StringEquals": {"AWS:UserName": "alice"}}, ctx(aws__username="alice")))

    def test_absent_key(self):
        self.assertFalse(self.check({"StringEquals": {"aws:username": "alice"}}, {}))
        self.assertTrue(self.check({"StringNotEquals": {"aws:username": "alice"}}, {}))

    def test_if_exists(self):
        cond = {"StringEqualsIfExists": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
        self.assertTrue(self.check(cond, {}))
        self.assertFalse(self.check(cond, ctx(kms__viaservice="s3.us-east-1.amazonaws.com")))
        self.assertTrue(self.check(cond, ctx(kms__viaservice="dynamodb.us-east-1.amazonaws.com")))

    def test_null(self):
        self.assertTrue(self.check({"Null": {"kms:ViaService": "true"}}, {}))
        self.assertFalse(self.check({"Null": {"kms:ViaService": "true"}}, ctx(kms__viaservice="x")))
        self.assertTrue(self.check({"Null": {"kms:ViaService": "false"}}, ctx(kms__viaservice="x")))

    def test_bool_numeric_date_ip_arn(self):
        self.assertTrue(self.check({"Bool": {"aws:SecureTransport": True}}, ctx(aws__securetransport="true")))
        self.assertTrue(self.check({"NumericLessThanEquals": {"s3:max-keys": "10"}}, ctx(**{"s3:max-keys": "10"})))
        self.assertFalse(self.check({"NumericLessThan": {"s3:max-keys": 10}}, ctx(**{"s3:max-keys": "10"})))
        self.assertTrue(self.check({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                                   ctx(aws__currenttime="2026-06-01T00:00:00Z")))
        self.assertTrue(self.check({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, ctx(aws__sourceip="10.1.2.3")))
        self.assertTrue(self.check({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, ctx(aws__sourceip="11.1.2.3")))
        self.assertTrue(self.check({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/w*"}},
                                   ctx(aws__principalarn=ROLE.principal_arn)))
        self.assertTrue(self.check({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}},
                                   ctx(aws__principalarn=ROLE.principal_arn)))

    def test_for_all_values_is_true_for_absent_or_empty_key(self):
        cond = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["tenant-a#*"]}}
        self.assertTrue(self.check(cond, {}))
        self.assertTrue(self.check(cond, {"dynamodb:leadingkeys": ()}))
        self.assertTrue(self.check(cond, ctx(dynamodb__leadingkeys=["tenant-a#1", "tenant-a#2"])))
        self.assertFalse(self.check(cond, ctx(dynamodb__leadingkeys=["tenant-a#1", "tenant-b#2"])))

    def test_for_any_value(self):
        cond = {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["purpose", "tenant"]}}
        self.assertFalse(self.check(cond, {}))
        self.assertTrue(self.check(cond, ctx(kms__encryptioncontextkeys=["x", "tenant"])))
        self.assertFalse(self.check(cond, ctx(kms__encryptioncontextkeys=["x", "y"])))

    def test_negated_set_operators(self):
        only_ab = {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["a", "b"]}}
        self.assertTrue(self.check(only_ab, ctx(kms__encryptioncontextkeys=["a"])))
        self.assertFalse(self.check(only_ab, ctx(kms__encryptioncontextkeys=["a", "c"])))
        none_secret = {"ForAllValues:StringNotLike": {"ses:Recipients": ["*@secret.example"]}}
        self.assertTrue(self.check(none_secret, ctx(ses__recipients=["a@x.com", "b@y.com"])))
        self.assertFalse(self.check(none_secret, ctx(ses__recipients=["a@x.com", "b@secret.example"])))

    def test_encryption_context_condition(self):
        p = pol(allow("kms:Encrypt", KEY, Condition={"StringEquals": {"kms:EncryptionContext:rootwarden:kind":
                                                                        "root-password"}}))
        good = ctx(**{"kms:encryptioncontext:rootwarden:kind": "root-password"})
        bad = ctx(**{"kms:encryptioncontext:rootwarden:kind": "mfa-seed"})
        self.assertEqual(ident([p], "kms:Encrypt", KEY, good), "Allow")
        self.assertIsNone(ident([p], "kms:Encrypt", KEY, bad))
        self.assertIsNone(ident([p], "kms:Encrypt", KEY, {}))

    def test_policy_variables(self):
        p = pol(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
        self.assertEqual(ident([p], "s3:GetObject", "arn:aws:s3:::home/alice/x", ctx(aws__username="alice")), "Allow")
        self.assertIsNone(ident([p], "s3:GetObject", "arn:aws:s3:::home/bob/x", ctx(aws__username="alice")))
        self.assertIsNone(ident([p], "s3:GetObject", "arn:aws:s3:::home/alice/x", {}))
        old = parse_policy(json.dumps({"Version": "2008-10-17", "Statement": [
            allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*")]}))
        self.assertIsNone(evaluate_identity([old], "s3:GetObject", "arn:aws:s3:::home/alice/x",
                                            ctx(aws__username="alice")))


class ResourcePolicies(unittest.TestCase):
    def test_bucket_policy_alone_grants_a_named_principal(self):
        bp = pol(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": USER.arn}))
        d = authorize([], USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp, "resource")
        self.assertTrue(d.allowed)
        self.assertEqual(d.decided_by, "resource-policy")
        d = authorize([], ROLE, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp, "resource")
        self.assertFalse(d.allowed)

    def test_role_arn_in_resource_policy_covers_its_sessions(self):
        bp = pol(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ROLE.principal_arn}))
        self.assertTrue(authorize([], ROLE, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp, "resource").allowed)

    def test_account_principal_only_delegates(self):
        bp = pol(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
        self.assertFalse(authorize([], USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp, "resource").allowed)
        self.assertTrue(authorize([pol(allow("s3:GetObject"))], USER, "s3:GetObject", "arn:aws:s3:::b/k", {},
                                  bp, "resource").allowed)
        # the function-URL rule used before the engine (enforcement off)
        self.assertTrue(authorize([], USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp, "resource",
                                  legacy=True).allowed)

    def test_identity_alone_suffices_for_resource_mode(self):
        d = authorize([pol(allow("s3:GetObject"))], USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, None, "resource")
        self.assertTrue(d.allowed)

    def test_explicit_deny_in_resource_policy_wins(self):
        bp = pol(deny("s3:*", "arn:aws:s3:::b/*", Principal="*"))
        d = authorize([pol(allow("*"))], USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp, "resource")
        self.assertFalse(d.allowed)
        self.assertIn("explicit deny in a resource-based policy", d.reason)

    def test_tls_only_deny_does_not_fire_over_secure_transport(self):
        bp = pol(deny("s3:*", "arn:aws:s3:::b/*", Principal="*",
                      Condition={"Bool": {"aws:SecureTransport": "false"}}))
        d = authorize([pol(allow("*"))], USER, "s3:GetObject", "arn:aws:s3:::b/k",
                      ctx(aws__securetransport="true"), bp, "resource")
        self.assertTrue(d.allowed)

    def test_service_principal_never_matches_an_iam_caller(self):
        bp = pol(allow("s3:PutObject", "arn:aws:s3:::b/*", Principal={"Service": "ses.amazonaws.com"}))
        self.assertFalse(authorize([], USER, "s3:PutObject", "arn:aws:s3:::b/k", {}, bp, "resource").allowed)

    def test_not_principal_deny(self):
        bp = pol({"Effect": "Deny", "NotPrincipal": {"AWS": USER.arn}, "Action": "s3:*", "Resource": "*"})
        self.assertTrue(authorize([pol(allow("*"))], USER, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp,
                                  "resource").allowed)
        self.assertFalse(authorize([pol(allow("*"))], ROLE, "s3:GetObject", "arn:aws:s3:::b/k", {}, bp,
                                   "resource").allowed)

    def test_lambda_url_condition(self):
        fp = pol({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "lambda:InvokeFunction",
                  "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                  "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}})
        via = ctx(lambda__invokedviafunctionurl="true")
        fn = "arn:aws:lambda:us-east-1:1:function:f"
        self.assertTrue(authorize([], USER, "lambda:InvokeFunction", fn, via, fp, "resource", legacy=True).allowed)
        self.assertFalse(authorize([], USER, "lambda:InvokeFunction", fn, {}, fp, "resource", legacy=True).allowed)


class KeyPolicies(unittest.TestCase):
    ADMIN = [pol(allow("*"))]

    def test_delegation_to_the_account_needs_identity_allow(self):
        kp = pol(allow("kms:*", Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
        self.assertTrue(authorize(self.ADMIN, USER, "kms:Encrypt", KEY, {}, kp, "key").allowed)
        d = authorize([], USER, "kms:Encrypt", KEY, {}, kp, "key")
        self.assertFalse(d.allowed)
        self.assertIn("no identity-based policy allows the kms:Encrypt action", d.reason)
        kp2 = pol(allow("kms:*", Principal={"AWS": ACCT}))
        self.assertTrue(authorize(self.ADMIN, ROLE, "kms:Decrypt", KEY, {}, kp2, "key").allowed)

    def test_key_policy_without_delegation_denies_an_admin(self):
        kp = pol(allow("kms:*", Principal={"AWS": f"arn:aws:iam::{ACCT}:role/keyadmin"}))
        d = authorize(self.ADMIN, USER, "kms:Encrypt", KEY, {}, kp, "key")
        self.assertFalse(d.allowed)
        self.assertEqual(d.decided_by, "no-resource-based-allow")
        self.assertIn("because no resource-based policy allows the kms:Encrypt action", d.reason)

    def test_direct_grant_needs_no_identity_policy(self):
        kp = pol(allow("kms:Decrypt", Principal={"AWS": ROLE.principal_arn}))
        self.assertTrue(authorize([], ROLE, "kms:Decrypt", KEY, {}, kp, "key").allowed)
        self.assertFalse(authorize([], ROLE, "kms:Encrypt", KEY, {}, kp, "key").allowed)
        kp_session = pol(allow("kms:Decrypt", Principal={"AWS": ROLE.arn}))
        self.assertTrue(authorize([], ROLE, "kms:Decrypt", KEY, {}, kp_session, "key").allowed)

    def test_identity_deny_beats_a_direct_key_grant(self):
        kp = pol(allow("kms:*", Principal={"AWS": USER.arn}))
        d = authorize([pol(deny("kms:Decrypt"))], USER, "kms:Decrypt", KEY, {}, kp, "key")
        self.assertFalse(d.allowed)
        self.assertIn("explicit deny in an identity-based policy", d.reason)

    def test_key_policy_deny_beats_identity_allow(self):
        kp = pol(allow("kms:*", Principal={"AWS": ACCT}),
                 deny("kms:Decrypt", Principal="*", Condition={"StringNotEquals": {"kms:CallerAccount": "9"}}))
        d = authorize(self.ADMIN, USER, "kms:Decrypt", KEY, ctx(kms__calleraccount=ACCT), kp, "key")
        self.assertFalse(d.allowed)
        self.assertIn("explicit deny in a resource-based policy", d.reason)

    def test_no_key_policy_denies(self):
        self.assertFalse(authorize(self.ADMIN, USER, "kms:Encrypt", KEY, {}, None, "key").allowed)

    def test_trust_policy_same_rule(self):
        trust = pol({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:AssumeRole"})
        role = f"arn:aws:iam::{ACCT}:role/target"
        self.assertFalse(authorize([], USER, "sts:AssumeRole", role, {}, trust, "key").allowed)
        self.assertTrue(authorize([pol(allow("sts:AssumeRole", role))], USER, "sts:AssumeRole", role, {},
                                  trust, "key").allowed)
        services_only = pol({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                             "Action": "sts:AssumeRole"})
        self.assertFalse(authorize(self.ADMIN, USER, "sts:AssumeRole", role, {}, services_only, "key").allowed)


class Messages(unittest.TestCase):
    def test_message_names_the_action(self):
        d = authorize([], USER, "dynamodb:PutItem", TABLE, {})
        self.assertEqual(d.message(USER.arn, "dynamodb:PutItem", TABLE),
                         f"User: {USER.arn} is not authorized to perform: dynamodb:PutItem on resource: "
                         f"{TABLE} because no identity-based policy allows the dynamodb:PutItem action")


if __name__ == "__main__":
    unittest.main()
