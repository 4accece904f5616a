"""Roles AWS (or the provider's account baseline) puts into member accounts, which moto 5.2.5
does not create:

- `RootWardenReleaseMember` (the member role infra/template.yaml documents; in production a
  StackSet of the management account deploys it): every account created in an organization
  (organizations:CreateAccount) gets it, trusting that organization's management account
  (`arn:aws:iam::<management>:root`, so the management account's own IAM policies decide who
  may assume it), with an inline policy of exactly what the release function does inside the
  account: organizations:ListHandshakesForAccount, organizations:AcceptHandshake and
  iam:GetRole on AWSControlTowerExecution.
- `AWSControlTowerExecution`: present while the account is enrolled in AWS Control Tower
  (the `control_tower` flag of PUT /_rootwarden/organizations/accounts/{id}), trusting the
  management account, with AdministratorAccess as Control Tower's has.
"""
from __future__ import annotations

import json

from .common import log

MEMBER_ROLE = "RootWardenReleaseMember"
CONTROL_TOWER_ROLE = "AWSControlTowerExecution"
PARTITION = "aws"


def _iam(account_id: str):
    from moto.iam.models import iam_backends

    return iam_backends[account_id][PARTITION]


def _trust(management: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{management}:root"},
        "Action": "sts:AssumeRole"}]})


def member_policy(account_id: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Handshakes", "Effect": "Allow",
         "Action": ["organizations:ListHandshakesForAccount", "organizations:AcceptHandshake"],
         "Resource": "*"},
        {"Sid": "ControlTowerEnrolment", "Effect": "Allow", "Action": "iam:GetRole",
         "Resource": f"arn:aws:iam::{account_id}:role/{CONTROL_TOWER_ROLE}"}]})


def _role(account_id: str, name: str):
    be = _iam(account_id)
    return next((r for r in list(be.roles.values()) if r.name == name), None)


def ensure_role(account_id: str, management: str, name: str, policy: str, description: str) -> None:
    """Creates role `name` in `account_id` (idempotent) trusting `management`."""
    be = _iam(account_id)
    if _role(account_id, name) is None:
        be.create_role(role_name=name, assume_role_policy_document=_trust(management), path="/",
                       permissions_boundary=None, description=description, tags=[],
                       max_session_duration="3600")
    be.put_role_policy(name, f"{name}Policy", policy)


def ensure_member_role(account_id: str, management: str) -> None:
    ensure_role(account_id, management, MEMBER_ROLE, member_policy(account_id),
                "Root Warden release: accept the customer's invitation from inside the account")
    log(f"IAM: role {MEMBER_ROLE} in member account {account_id} (trusts {management})")


ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def set_control_tower(account_id: str, management: str, enrolled: bool) -> None:
    """AWSControlTowerExecution exists in the account exactly while it is enrolled."""
    if enrolled:
        ensure_role(account_id, management, CONTROL_TOWER_ROLE, ADMIN,
                    "AWS Control Tower's execution role")
        return
    be = _iam(account_id)
    if _role(account_id, CONTROL_TOWER_ROLE) is not None:
        be.delete_role_policy(CONTROL_TOWER_ROLE, f"{CONTROL_TOWER_ROLE}Policy")
        be.delete_role(CONTROL_TOWER_ROLE)


def patch_create_account() -> None:
    """organizations:CreateAccount also creates the member role in the new account."""
    from moto.organizations.models import OrganizationsBackend

    if getattr(OrganizationsBackend.create_account, "_rootwarden_member_role", False):
        return
    original = OrganizationsBackend.create_account

    def create_account(self, **kwargs):  # type: ignore[no-untyped-def]
        status = original(self, **kwargs)
        ensure_member_role(status["CreateAccountStatus"]["AccountId"], self.org.master_account_id)
        return status

    create_account._rootwarden_member_role = True  # type: ignore[attr-defined]
    OrganizationsBackend.create_account = create_account
