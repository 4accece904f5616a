"""A cancelled TransactWriteItems puts back exactly the items it targeted, without copying the
tables it touched (moto_patches.patch_dynamodb_item_rollback). In-process moto, boto3."""
from __future__ import annotations

import copy
import os
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rootwarden_ext import moto_patches  # noqa: E402

moto = pytest.importorskip("moto")
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture()
def ddb(monkeypatch):
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(var, value)
    moto_patches.patch_dynamodb_item_rollback()
    moto_patches.patch_dynamodb_item_rollback()  # idempotent: a second call does not re-wrap
    with moto.mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName="plain", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        client.create_table(TableName="ranged", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        yield client


def backend_table(name):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION].tables[name]


def item(client, table, **key):
    got = client.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()},
                          ConsistentRead=True)
    return got.get("Item")


def seed(client):
    for pk in ("a", "c", "bystander"):
        client.put_item(TableName="plain", Item={"pk": {"S": pk}, "v": {"N": "1"}})
    client.put_item(TableName="ranged", Item={"pk": {"S": "p"}, "sk": {"S": "1"}, "v": {"N": "1"}})


def writes(failing_last):
    ops = [
        {"Update": {"TableName": "plain", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Put": {"TableName": "plain", "Item": {"pk": {"S": "b"}, "v": {"N": "2"}}}},
        {"Delete": {"TableName": "plain", "Key": {"pk": {"S": "c"}}}},
        {"Update": {"TableName": "ranged", "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "p"}, "sk": {"S": "2"}}}},
    ]
    ops.append(failing_last)
    return ops


def assert_untouched(client):
    assert item(client, "plain", pk="a")["v"] == {"N": "1"}
    assert item(client, "plain", pk="b") is None
    assert item(client, "plain", pk="c")["v"] == {"N": "1"}
    assert item(client, "plain", pk="bystander")["v"] == {"N": "1"}
    assert item(client, "ranged", pk="p", sk="1")["v"] == {"N": "1"}
    assert item(client, "ranged", pk="p", sk="2") is None


def test_a_cancelled_transaction_puts_back_each_item_it_wrote(ddb):
    seed(ddb)
    tables = (backend_table("plain"), backend_table("ranged"))
    failing = {"ConditionCheck": {"TableName": "plain", "Key": {"pk": {"S": "nobody"}},
                                  "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=writes(failing))
    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert_untouched(ddb)
    # moto replaced each touched table by a deep copy; the item rollback keeps the tables
    assert (backend_table("plain"), backend_table("ranged")) == tables
    assert backend_table("plain") is tables[0] and backend_table("ranged") is tables[1]


def test_a_transaction_refused_mid_way_as_invalid_puts_back_what_it_wrote(ddb):
    seed(ddb)
    duplicate = {"ConditionCheck": {"TableName": "plain", "Key": {"pk": {"S": "a"}},
                                    "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=writes(duplicate))
    assert_untouched(ddb)


def test_a_transaction_that_holds_writes_every_item(ddb):
    seed(ddb)
    holding = {"ConditionCheck": {"TableName": "plain", "Key": {"pk": {"S": "bystander"}},
                                  "ConditionExpression": "attribute_exists(pk)"}}
    ddb.transact_write_items(TransactItems=writes(holding))
    assert item(ddb, "plain", pk="a")["v"] == {"N": "2"}
    assert item(ddb, "plain", pk="b")["v"] == {"N": "2"}
    assert item(ddb, "plain", pk="c") is None
    assert item(ddb, "ranged", pk="p", sk="1")["v"] == {"N": "2"}
    assert item(ddb, "ranged", pk="p", sk="2") is not None


def test_a_transaction_does_not_copy_the_tables_it_touches(ddb, monkeypatch):
    seed(ddb)
    from moto.dynamodb.models.table import Table

    copied = []
    real = copy.deepcopy

    def counting(value, memo=None):
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr("copy.deepcopy", counting)
    failing = {"ConditionCheck": {"TableName": "plain", "Key": {"pk": {"S": "nobody"}},
                                  "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=writes(failing))
    assert copied == []
