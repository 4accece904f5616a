"""moto's DynamoDB as patched (moto_patches): a cancelled TransactWriteItems puts back exactly the
items it targeted, without copying the tables it touched (patch_dynamodb_item_rollback); a Query
on the table's key reads one partition and answers as before (patch_dynamodb_partition_query).
In-process moto, boto3."""
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
    for _ in range(2):  # idempotent: a second call does not re-wrap
        moto_patches.patch_dynamodb_item_rollback()
        moto_patches.patch_dynamodb_partition_query()
    with moto.mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName="plain", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        client.create_table(TableName="ranged", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"},
                                                  {"AttributeName": "g", "AttributeType": "S"}],
                            GlobalSecondaryIndexes=[{"IndexName": "by-g",
                                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                                     "Projection": {"ProjectionType": "ALL"}}])
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


def sks(page):
    return [i["sk"]["S"] for i in page["Items"]]


def test_a_query_on_the_tables_key_answers_from_its_partition_as_before(ddb):
    for pk, n in (("p1", 5), ("p2", 3), ("p3", 0)):
        for i in range(n):
            ddb.put_item(TableName="ranged", Item={"pk": {"S": pk}, "sk": {"S": f"v#{i}"},
                                                   "g": {"S": "shared"}, "odd": {"BOOL": i % 2 == 1}})
    ddb.put_item(TableName="plain", Item={"pk": {"S": "solo"}})
    q = {"TableName": "ranged", "KeyConditionExpression": "pk = :p",
         "ExpressionAttributeValues": {":p": {"S": "p1"}}}
    assert sks(ddb.query(**q)) == [f"v#{i}" for i in range(5)]
    assert sks(ddb.query(**q, ScanIndexForward=False)) == [f"v#{i}" for i in reversed(range(5))]
    first = ddb.query(**q, Limit=2)
    assert sks(first) == ["v#0", "v#1"]
    rest = ddb.query(**q, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert sks(rest) == ["v#2", "v#3", "v#4"]
    ranged = dict(q, KeyConditionExpression="pk = :p AND sk >= :from",
                  ExpressionAttributeValues={":p": {"S": "p1"}, ":from": {"S": "v#3"}})
    assert sks(ddb.query(**ranged)) == ["v#3", "v#4"]
    filtered = ddb.query(**dict(q, FilterExpression="odd = :t", ExpressionAttributeValues={
        ":p": {"S": "p1"}, ":t": {"BOOL": True}}))
    assert sks(filtered) == ["v#1", "v#3"]
    none = dict(q, ExpressionAttributeValues={":p": {"S": "p3"}})
    assert ddb.query(**none)["Items"] == []
    solo = ddb.query(TableName="plain", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "solo"}})
    assert [i["pk"]["S"] for i in solo["Items"]] == ["solo"]
    # An index query still sees every partition.
    by_g = ddb.query(TableName="ranged", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "shared"}})
    assert len(by_g["Items"]) == 8


def test_a_query_on_the_tables_key_does_not_list_the_table(ddb, monkeypatch):
    for pk in ("a", "b"):
        ddb.put_item(TableName="ranged", Item={"pk": {"S": pk}, "sk": {"S": "1"}})
    listed = []
    table = backend_table("ranged")
    original = table.items

    class Watched(dict):
        def values(self):
            listed.append("whole table")
            return super().values()

    watched = Watched(original)
    monkeypatch.setattr(table, "items", watched)
    got = ddb.query(TableName="ranged", KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "a"}})
    assert [i["pk"]["S"] for i in got["Items"]] == ["a"]
    assert listed == []
