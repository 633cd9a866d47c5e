"""The data and control plane of both regions, created on one moto server from the JSON.

What is created, with the names the JSON gives (references resolved by :mod:`twin.model`):
KMS keys and aliases, DynamoDB tables (keys, GSIs, TTL; a global table's replicas become one
table per replica region: their replication is :mod:`twin.replication`'s job), S3 buckets
(versioning, object lock), Secrets Manager secrets (one per replica region, same name; a
``secret_string`` version when the JSON has one), SSM parameters and SNS topics.

Everything else in the JSON (VPCs, IAM, WAF, Aurora, alarms, ...) is not created: moto would
accept most of it, but nothing in the twin reads it yet (docs/twin.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from twin.model import Platform, Resource, fake

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing"}


_CLIENTS: dict[tuple[str, str, str], Any] = {}
_SESSIONS: dict[str, Any] = {}


def client(service: str, region: str, endpoint: str) -> Any:
    """A boto3 client for the twin's moto server (cached: building clients is the slow part)."""
    key = (service, region, endpoint)
    if key not in _CLIENTS:
        _CLIENTS[key] = _session(region).client(service, endpoint_url=endpoint)
    return _CLIENTS[key]


def _session(region: str) -> Any:
    import boto3

    if region in _SESSIONS:
        return _SESSIONS[region]
    _SESSIONS[region] = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=region,
    )
    return _SESSIONS[region]


@dataclass
class Inventory:
    """What was created, per kind: (region, name) pairs, and the replica links."""

    tables: list[tuple[str, str]] = field(default_factory=list)
    buckets: list[tuple[str, str]] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)
    parameters: list[tuple[str, str]] = field(default_factory=list)
    topics: list[tuple[str, str]] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)  # (region, key ARN)
    aliases: list[tuple[str, str]] = field(default_factory=list)
    # global tables and replicated secrets: name -> [source region, replica regions...]
    table_replicas: dict[str, list[str]] = field(default_factory=dict)
    # global tables whose replicas are multi-Region strongly consistent (replica consistency_mode STRONG)
    strong_tables: set[str] = field(default_factory=set)
    secret_replicas: dict[str, list[str]] = field(default_factory=dict)
    # S3 replication rules: (source region, source bucket, destination region, destination bucket)
    bucket_replication: list[tuple[str, str, str, str]] = field(default_factory=list)


def provision(platform: Platform, endpoint: str) -> Inventory:
    inv = Inventory()
    _kms(platform, endpoint, inv)
    _dynamodb(platform, endpoint, inv)
    _s3(platform, endpoint, inv)
    _secrets(platform, endpoint, inv)
    _ssm(platform, endpoint, inv)
    _sns(platform, endpoint, inv)
    return inv


def _kms(platform: Platform, endpoint: str, inv: Inventory) -> None:
    for res in platform.resources("aws_kms_key"):
        kms = client("kms", res.region, endpoint)
        meta = kms.create_key(Description=str(platform.get(res, "description", "")))["KeyMetadata"]
        platform.record(res, arn=meta["Arn"], key_id=meta["KeyId"], id=meta["KeyId"])
        inv.keys.append((res.region, meta["Arn"]))
    for res in platform.resources("aws_kms_alias"):
        name = str(platform.get(res, "name"))
        client("kms", res.region, endpoint).create_alias(AliasName=name,
                                                         TargetKeyId=str(platform.get(res, "target_key_id")))
        inv.aliases.append((res.region, name))


def _table_arguments(platform: Platform, res: Resource) -> dict[str, Any]:
    body = platform.resolve(res.stack, res.body)
    schema = [{"AttributeName": body["hash_key"], "KeyType": "HASH"}]
    if body.get("range_key"):
        schema.append({"AttributeName": body["range_key"], "KeyType": "RANGE"})
    args: dict[str, Any] = {
        "TableName": body["name"],
        "KeySchema": schema,
        "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]}
                                 for a in body.get("attribute", [])],
        "BillingMode": body.get("billing_mode", "PROVISIONED"),
    }
    if args["BillingMode"] == "PROVISIONED":
        args["ProvisionedThroughput"] = {"ReadCapacityUnits": int(body.get("read_capacity", 5)),
                                         "WriteCapacityUnits": int(body.get("write_capacity", 5))}
    indexes = []
    for gsi in body.get("global_secondary_index", []):
        key = [{"AttributeName": gsi["hash_key"], "KeyType": "HASH"}]
        if gsi.get("range_key"):
            key.append({"AttributeName": gsi["range_key"], "KeyType": "RANGE"})
        projection: dict[str, Any] = {"ProjectionType": gsi.get("projection_type", "ALL")}
        if gsi.get("non_key_attributes"):
            projection["NonKeyAttributes"] = gsi["non_key_attributes"]
        index: dict[str, Any] = {"IndexName": gsi["name"], "KeySchema": key, "Projection": projection}
        if args["BillingMode"] == "PROVISIONED":
            index["ProvisionedThroughput"] = args["ProvisionedThroughput"]
        indexes.append(index)
    if indexes:
        args["GlobalSecondaryIndexes"] = indexes
    if body.get("stream_enabled"):
        args["StreamSpecification"] = {"StreamEnabled": True,
                                       "StreamViewType": body.get("stream_view_type", "NEW_AND_OLD_IMAGES")}
    return args


def _dynamodb(platform: Platform, endpoint: str, inv: Inventory) -> None:
    for res in platform.resources("aws_dynamodb_table"):
        args = _table_arguments(platform, res)
        replicas = [str(r["region_name"]) for r in platform.get(res, "replica", [])]
        ttl = platform.get(res, "ttl")
        for region in [res.region, *replicas]:
            ddb = client("dynamodb", region, endpoint)
            ddb.create_table(**args)
            if ttl and ttl.get("enabled"):
                ddb.update_time_to_live(TableName=args["TableName"], TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": ttl["attribute_name"]})
            inv.tables.append((region, args["TableName"]))
        if replicas:
            inv.table_replicas[args["TableName"]] = [res.region, *replicas]
            if any(str(r.get("consistency_mode", "")).upper() == "STRONG" for r in platform.get(res, "replica", [])):
                inv.strong_tables.add(args["TableName"])


def _by_bucket(platform: Platform, rtype: str) -> dict[str, Resource]:
    """Bucket-attached resources (versioning, object lock) by the bucket name they name."""
    return {str(platform.get(res, "bucket")): res for res in platform.resources(rtype)}


def _s3(platform: Platform, endpoint: str, inv: Inventory) -> None:
    versioning = _by_bucket(platform, "aws_s3_bucket_versioning")
    locks = _by_bucket(platform, "aws_s3_bucket_object_lock_configuration")
    for res in platform.resources("aws_s3_bucket"):
        name = str(platform.get(res, "bucket"))
        s3 = client("s3", res.region, endpoint)
        args: dict[str, Any] = {"Bucket": name}
        if res.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": res.region}
        if platform.get(res, "object_lock_enabled"):
            args["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**args)
        if name in versioning:
            status = platform.get(versioning[name], "versioning_configuration", {}).get("status", "Enabled")
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        if name in locks:
            rule = platform.get(locks[name], "rule")
            retention = (rule or {}).get("default_retention") if isinstance(rule, dict) else None
            if retention:
                default = {"Mode": retention["mode"]}
                for key, aws_key in (("days", "Days"), ("years", "Years")):
                    if retention.get(key):
                        default[aws_key] = int(retention[key])
                s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": default}})
        inv.buckets.append((res.region, name))
    region_of_bucket = {name: region for region, name in inv.buckets}
    for res in platform.resources("aws_s3_bucket_replication_configuration"):
        source = str(platform.get(res, "bucket"))
        for rule in platform.get(res, "rule", []):
            if str(rule.get("status", "Enabled")) != "Enabled":
                continue
            destination = str(rule["destination"]["bucket"]).rsplit(":", 1)[-1]
            inv.bucket_replication.append((region_of_bucket.get(source, res.region), source,
                                           region_of_bucket.get(destination, ""), destination))


def _secrets(platform: Platform, endpoint: str, inv: Inventory) -> None:
    values = {}
    for res in platform.resources("aws_secretsmanager_secret_version"):
        secret_string = platform.get(res, "secret_string")
        if secret_string is None and "secret_string_wo" in res.body:
            # write-only value from an ephemeral resource: Terraform never stores it; a fake here
            secret_string = json.dumps({"twin": fake(res.stack, res.address, "secret_string_wo")})
        if secret_string is not None:
            values[res.body["secret_id"]] = str(secret_string)
    for res in platform.resources("aws_secretsmanager_secret"):
        name = str(platform.get(res, "name"))
        replicas = [str(r["region"]) for r in platform.get(res, "replica", [])]
        reference = f"${{{res.address}.id}}"
        arn = ""
        for region in [res.region, *replicas]:
            args: dict[str, Any] = {"Name": name, "Description": str(platform.get(res, "description", ""))}
            if reference in values:
                args["SecretString"] = values[reference]
            created = client("secretsmanager", region, endpoint).create_secret(**args)
            arn = arn or created["ARN"]
            inv.secrets.append((region, name))
        platform.record(res, arn=arn, id=arn)
        if replicas:
            inv.secret_replicas[name] = [res.region, *replicas]


def _ssm(platform: Platform, endpoint: str, inv: Inventory) -> None:
    for res in platform.resources("aws_ssm_parameter"):
        name = str(platform.get(res, "name"))
        client("ssm", res.region, endpoint).put_parameter(
            Name=name, Value=str(platform.get(res, "value", "")), Type=str(platform.get(res, "type", "String")),
            Description=str(platform.get(res, "description", "")))
        inv.parameters.append((res.region, name))


def _sns(platform: Platform, endpoint: str, inv: Inventory) -> None:
    for res in platform.resources("aws_sns_topic"):
        name = str(platform.get(res, "name"))
        arn = client("sns", res.region, endpoint).create_topic(Name=name)["TopicArn"]
        platform.record(res, arn=arn, id=arn)
        inv.topics.append((res.region, name))
