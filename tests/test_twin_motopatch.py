"""twin/motopatch.py changes moto's cost, not its answers: a key Query, patched, returns what
moto's own Query returns (items, order, pages, filters), and index queries are untouched."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws


def _table(ddb):
    ddb.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"},
                              {"AttributeName": "status", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                               {"AttributeName": "sk", "KeyType": "RANGE"}]}])
    for p in range(30):
        for s in range(p % 5 + 1):
            ddb.put_item(TableName="t", Item={"pk": {"S": f"p{p:02d}"}, "sk": {"N": str(s * 7 % 11)},
                                              "status": {"S": "ok" if (p + s) % 3 else "bad"},
                                              "pad": {"S": "x" * 300}})


QUERIES = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p04"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p04"}},
     "ScanIndexForward": False, "Limit": 2},
    {"KeyConditionExpression": "pk = :p AND sk > :s",
     "ExpressionAttributeValues": {":p": {"S": "p09"}, ":s": {"N": "3"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p09"}, ":b": {"S": "bad"}},
     "FilterExpression": "#st = :b", "ExpressionAttributeNames": {"#st": "status"}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "missing"}}},
    {"IndexName": "by-status", "KeyConditionExpression": "#st = :b AND sk BETWEEN :a AND :z",
     "ExpressionAttributeNames": {"#st": "status"},
     "ExpressionAttributeValues": {":b": {"S": "bad"}, ":a": {"N": "0"}, ":z": {"N": "9"}}, "Limit": 3},
]


def _all_pages(ddb, query):
    pages, kwargs = [], {"TableName": "t", **query}
    while True:
        page = ddb.query(**kwargs)
        pages.append((page["Items"], page["Count"], page.get("LastEvaluatedKey")))
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def answers():
    """Each query's pages from moto as shipped, then with the patch installed."""
    from moto.dynamodb.models.table import Table

    from twin import motopatch

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _table(ddb)
        saved = Table.query, Table.all_items, motopatch._installed
        before = [_all_pages(ddb, q) for q in QUERIES]
        walks = []

        def counted(self):  # moto's walk of every item, counted
            walks.append(self.name)
            return saved[1](self)
        try:
            Table.all_items = counted
            motopatch._installed = False
            motopatch._partition_queries()
            after = [_all_pages(ddb, q) for q in QUERIES[:-1]]
            key_query_walks = len(walks)
            after.append(_all_pages(ddb, QUERIES[-1]))
        finally:
            Table.query, Table.all_items, motopatch._installed = saved
    return before, after, key_query_walks, len(walks)


def test_a_patched_key_query_answers_what_moto_answers(answers):
    before, after, key_query_walks, walks = answers
    assert after == before
    assert key_query_walks == 0, "a key Query still walked (and sorted) every item of the table"
    assert walks > 0, "an index Query is moto's own"
    assert [len(pages) for pages in before] == [1, 3, 1, 1, 1, len(before[-1])]
    assert before[0][0][1] == 5 and before[4][0][1] == 0  # the queries do select (not vacuous)
