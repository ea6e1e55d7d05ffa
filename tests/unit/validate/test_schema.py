"""The schema itself: a valid draft 2020-12 document that covers what the loader binds."""

from __future__ import annotations

import json
from dataclasses import fields

from jsonschema import Draft202012Validator

import schemas
from orchestrator import model as m

SCHEMA = json.loads(schemas.path("stack.schema.json").read_text())
SERVICE_KEYS = set(SCHEMA["properties"]["services"]["patternProperties"]["^[a-zA-Z0-9._-]+$"]["properties"])

# Keys the schema accepts that the model does not carry, each for a reason.
NOT_IN_MODEL = {
    "extends",  # resolved by the front-end (extends.py) before validation's output is bound
    "env_file",  # read into environment; the paths are kept as Service.env_files
    "label_file",  # read into labels
    "provider", "models", "use_api_socket", "pull_refresh_after",  # accepted, not supported yet
}
# Model fields that are not stack-file keys.
NOT_IN_SCHEMA = {"name", "env_files", "extensions"}


def test_schema_is_valid_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_service_key_is_bound_or_explained() -> None:
    model_fields = {f.name for f in fields(m.Service)}
    assert SERVICE_KEYS - model_fields == NOT_IN_MODEL
    assert model_fields - SERVICE_KEYS == NOT_IN_SCHEMA


def test_top_level_keys() -> None:
    assert set(SCHEMA["properties"]) == {
        "version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
        "models"}
    assert SCHEMA["patternProperties"] == {"^x-": {}}
