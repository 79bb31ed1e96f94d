#!/usr/bin/env python3
"""Helper for tests/kong.rs: Draft-4 validation against filters/jwt_relay.meta.json, YAML
reading, and PEM-to-JWK for the fixture check. Reads {"ops": [...]} on stdin, writes
{"results": [...]} (one per op) on stdout.

  {"op": "check_schema"}                 -> {"errors": [...]}  (the schema against Draft 4)
  {"op": "validate", "config": {...}}    -> {"errors": [...]}  (a config against the schema)
  {"op": "load_yaml", "path": "..."}     -> {"value": ...}
  {"op": "pem_to_jwk", "path": "..."}    -> {"jwk": {...}}     (public and private members)
"""
import json
import os
import sys

try:
    import jsonschema
    import yaml
    from jwcrypto import jwk
except ImportError as e:  # pragma: no cover - the message is the point
    sys.exit(f"kong_check.py: {e}: install tests/requirements.txt (`make tools`)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def schema():
    with open(os.path.join(ROOT, "filters", "jwt_relay.meta.json")) as f:
        return json.load(f)["config_schema"]


def errors(validator, instance):
    return sorted(
        "/".join(str(p) for p in e.absolute_path) + ": " + e.message
        for e in validator.iter_errors(instance)
    )


def run(op, validator):
    kind = op["op"]
    if kind == "check_schema":
        meta = jsonschema.Draft4Validator.META_SCHEMA
        return {"errors": errors(jsonschema.Draft4Validator(meta), schema())}
    if kind == "validate":
        return {"errors": errors(validator, op["config"])}
    if kind == "load_yaml":
        with open(os.path.join(ROOT, op["path"])) as f:
            return {"value": yaml.safe_load(f)}
    if kind == "pem_to_jwk":
        with open(os.path.join(ROOT, op["path"]), "rb") as f:
            key = jwk.JWK.from_pem(f.read())
        return {"jwk": json.loads(key.export(private_key=key.has_private))}
    raise ValueError(f"unknown op {kind!r}")


def main():
    validator = jsonschema.Draft4Validator(schema())
    ops = json.load(sys.stdin)["ops"]
    json.dump({"results": [run(op, validator) for op in ops]}, sys.stdout)


if __name__ == "__main__":
    main()
