"""schemas/openapi.json is generated from the route table and must be up to date."""

from __future__ import annotations

import json

import jsonschema
from daemon_fake_engine import IMAGE, container

from runtime import api
from runtime.daemon import codec
from runtime.daemon.openapi import DOCUMENT_PATH, build_document
from runtime.daemon.routes import ROUTES


def test_committed_document_is_up_to_date() -> None:
    committed = json.loads(DOCUMENT_PATH.read_text())
    assert committed == build_document(), (
        "schemas/openapi.json is stale: run `python -m runtime.daemon.openapi --write`")


def test_every_route_is_documented_with_its_operation_id() -> None:
    paths = build_document()["paths"]
    for route in ROUTES:
        op = paths[route.path][route.method.lower()]
        assert op["operationId"] == route.name
        documented = {p["name"] for p in op.get("parameters", [])}
        if "requestBody" in op:
            documented |= set(op["requestBody"]["content"]["application/json"]["schema"]
                              ["properties"])
        assert documented == {p.name for p in route.params}, route.name


def test_encoded_values_match_their_component_schemas() -> None:
    document = build_document()
    for name, value in (("ImageInfo", IMAGE), ("ContainerInfo", container())):
        schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(codec.encode(value))
    bad = codec.encode(container())
    bad["state"] = "sleeping"
    schema = {"$ref": "#/components/schemas/ContainerInfo", "components": document["components"]}
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)


def test_schemas_round_trip_through_the_codec() -> None:
    config = api.ContainerConfig(name="x", image="y", healthcheck=api.Healthcheck(test=("NONE",)))
    assert codec.decode(api.ContainerConfig, codec.encode(config)) == config
