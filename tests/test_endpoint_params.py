"""Our S3 clients leave out the endpoint parameters S3's rules never read, and resolve the same endpoints."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from conftest import BUCKET

from s3sessions.storage import endpoint_params
from s3sessions.storage.endpoint_params import leave_out_unread_parameters, referenced_names
from s3sessions.storage.s3 import S3ObjectStore


def rule(**parts: Any) -> SimpleNamespace:
    return SimpleNamespace(**parts)


def test_references_are_found_in_conditions_templates_and_nested_rules() -> None:
    rules = [
        rule(conditions=[{"fn": "isSet", "argv": [{"ref": "Region"}]}], error="no {Endpoint#scheme} here"),
        rule(
            conditions=[],
            rules=[rule(conditions=[], endpoint={"url": "https://{Bucket}.example", "properties": {}})],
        ),
    ]
    assert referenced_names(rules) == {"Region", "Endpoint", "Bucket"}


def test_a_rule_of_an_unknown_shape_leaves_everything_in() -> None:
    assert referenced_names([rule(something_else=[])]) is None


def fake_client(read: str) -> Any:
    definitions = {
        name: SimpleNamespace(required=name == "Region", default=None) for name in ("Region", "Bucket", "Key")
    }
    rules = [rule(conditions=[{"ref": "Region"}, {"ref": read}], endpoint={"url": "https://s3"})]
    resolver = SimpleNamespace(
        _param_definitions=definitions,
        _provider=SimpleNamespace(ruleset=SimpleNamespace(version=f"test-{read}", rules=rules)),
    )
    return SimpleNamespace(_ruleset_resolver=resolver)


def test_a_rule_set_that_reads_key_keeps_it() -> None:
    reading_key = fake_client("Key")
    assert leave_out_unread_parameters(reading_key) == frozenset({"Bucket"})
    assert list(reading_key._ruleset_resolver._param_definitions) == ["Region", "Key"]
    reading_bucket = fake_client("Bucket")
    assert leave_out_unread_parameters(reading_bucket) == frozenset({"Key"})


def test_a_client_of_another_shape_is_left_alone() -> None:
    assert leave_out_unread_parameters(object()) == frozenset()
    assert leave_out_unread_parameters(SimpleNamespace(_ruleset_resolver=None)) == frozenset()


async def test_our_client_leaves_out_the_key_and_resolves_the_same_endpoints(
    s3_endpoint: str | None, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    left_out: list[frozenset[str]] = []
    original = endpoint_params.leave_out_unread_parameters

    def recording(client: Any) -> frozenset[str]:
        left_out.append(original(client))
        return left_out[-1]

    monkeypatch.setattr("s3sessions.storage.s3.leave_out_unread_parameters", recording)
    store = S3ObjectStore(BUCKET, endpoint_url=s3_endpoint, region_name="us-east-1")
    try:
        client = await store.client()
        resolver = client._ruleset_resolver
        keys = [f"sessions/s{index}/segment" for index in range(3)]
        for key in keys:
            await store.put(key, key.encode())
        bodies = [(await store.get(key, max_bytes=1024)).body for key in keys]
        model = client.meta.service_model.operation_model("GetObject")
        ours = [await resolver.construct_endpoint(model, {"Bucket": BUCKET, "Key": key}, {}) for key in keys]
    finally:
        await store.close()
    assert left_out == [frozenset({"Key", "Prefix", "CopySource"})]
    assert bodies == [key.encode() for key in keys]
    # botocore's own resolver, with every declared parameter, gives the same endpoint for each key.
    theirs = [
        s3._ruleset_resolver.construct_endpoint(
            s3.meta.service_model.operation_model("GetObject"), {"Bucket": BUCKET, "Key": key}, {}
        )
        for key in keys
    ]
    assert [endpoint.url for endpoint in ours] == [endpoint.url for endpoint in theirs]
    assert [endpoint.properties for endpoint in ours] == [endpoint.properties for endpoint in theirs]
