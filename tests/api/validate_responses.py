#!/usr/bin/python3
"""Checks recorded API responses against docs/api/openapi.yaml: the contract cannot drift.

Usage: validate_responses.py SPEC RECORD_DIR

RECORD_DIR holds *.jsonl files written by the tests' HTTP clients (tests/api/api_record.h), one
response a line: {"source", "method", "path", "status", "content_type", "body"}. Each response
must belong to a documented operation (or to the spec's `x-duanka-unrouted` answers), have a
documented status code and content type, and its body must match that response's schema; the
schemas are closed (additionalProperties: false), so an undocumented field fails. Every example
in the spec is checked against its schema too.

Prints one line per failure naming the path, the status and the JSON pointer, and exits 1 if any
failed or if the directory holds no record at all (a run that recorded nothing proves nothing).
Needs Debian's python3-yaml and python3-jsonschema (4.10: Draft 2020-12 as OpenAPI 3.1 uses).
"""

import json
import os
import sys

import jsonschema
import yaml

# Printing every failure of a badly drifted spec would bury the first ones; the count is kept.
MAX_FAILURE_LINES = 100
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RECORD_FIELDS = {"source", "method", "path", "status", "content_type", "body"}


class Contract:
    def __init__(self, spec):
        self.spec = spec
        self.resolver = jsonschema.RefResolver(base_uri="", referrer=spec)

    def resolve(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            _, obj = self.resolver.resolve(obj["$ref"])
        return obj

    def errors(self, schema, instance):
        """The schema's errors for instance, as (JSON pointer, message), best first."""
        validator = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        found = list(validator.iter_errors(instance))
        if not found:
            return []
        best = jsonschema.exceptions.best_match(found)
        ordered = [deepest(best)] + [e for e in found if e is not best]
        return [(pointer(e.absolute_path), e.message) for e in ordered]

    def responses_for(self, method, path):
        """The responses map for a request, and which kind of match it was."""
        paths = self.spec.get("paths", {})
        unrouted = self.spec.get("x-duanka-unrouted", {})
        item = paths.get(path)
        if item is None:
            return unrouted.get("unknown-path", {}).get("responses", {}), "unknown path"
        operation = item.get(method.lower()) if method.lower() in METHODS else None
        if operation is None:
            return unrouted.get("unknown-method", {}).get("responses", {}), "unknown method"
        return operation.get("responses", {}), "operation"


def deepest(error):
    """For a oneOf/anyOf failure, the first error of the branch that came closest (fewest
    errors), so that the message names the field rather than "not valid under any schema"."""
    while error.context:
        branches = {}
        for e in error.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        closest = min(branches.values(), key=len)
        error = jsonschema.exceptions.best_match(closest)
    return error


def pointer(parts):
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def media_type(content_type):
    return content_type.split(";", 1)[0].strip().lower()


def check_examples(contract):
    """Every example of a media type matches that media type's schema."""
    failures = []

    def visit(where, content):
        for name, media in (content or {}).items():
            media = contract.resolve(media)
            schema = media.get("schema")
            if schema is None:
                continue
            examples = []
            if "example" in media:
                examples.append(("example", media["example"]))
            for key, ex in (media.get("examples") or {}).items():
                examples.append((key, contract.resolve(ex).get("value")))
            for key, value in examples:
                for at, message in contract.errors(schema, value)[:1]:
                    failures.append(f"spec example {where} {name} {key}: at {at}: {message}")

    for path, item in contract.spec.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = contract.resolve(operation.get("requestBody", {}))
            visit(f"{method.upper()} {path} request", body.get("content"))
            for status, response in operation.get("responses", {}).items():
                content = contract.resolve(response).get("content")
                visit(f"{method.upper()} {path} {status}", content)
    for kind, block in contract.spec.get("x-duanka-unrouted", {}).items():
        if isinstance(block, dict):
            for status, response in block.get("responses", {}).items():
                visit(f"unrouted {kind} {status}", contract.resolve(response).get("content"))
    for name, response in contract.spec.get("components", {}).get("responses", {}).items():
        visit(f"components.responses.{name}", response.get("content"))
    return failures


def check_record(contract, record):
    """The failure line for one recorded response, or None."""
    method = record["method"]
    path = record["path"].split("?", 1)[0]
    status = str(record["status"])
    where = f"{record['source']}: {method or '(unparsed)'} {path or '(unparsed)'} {status}"
    responses, matched = contract.responses_for(method, path)
    if status not in responses:
        if matched == "operation":
            return f"{where}: status {status} is not documented for this operation"
        return (f"{where}: {matched} answered {status}, which the spec does not allow for it "
                f"(documented: {', '.join(sorted(responses)) or 'none'})")
    response = contract.resolve(responses[status])
    content = response.get("content") or {}
    if not content:
        if record["body"]:
            return f"{where}: a body where the spec documents none"
        return None
    received = media_type(record["content_type"])
    media = next((m for key, m in content.items() if media_type(key) == received), None)
    if media is None:
        return (f"{where}: content type {record['content_type']!r} is not documented "
                f"(documented: {', '.join(content)})")
    media = contract.resolve(media)
    body = record["body"]
    if received == "application/json" or received.endswith("+json"):
        try:
            body = json.loads(body)
        except ValueError as e:
            return f"{where}: at /: the body is not JSON ({e})"
    schema = media.get("schema")
    if schema is None:
        return None
    errors = contract.errors(schema, body)
    if errors:
        at, message = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{where}: at {at}: {message}{more}"
    return None


def main(argv):
    if len(argv) != 3:
        print("usage: validate_responses.py SPEC RECORD_DIR", file=sys.stderr)
        return 2
    spec_path, record_dir = argv[1], argv[2]
    try:
        with open(spec_path, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print(f"api_contract: cannot read the spec {spec_path}: {e}", file=sys.stderr)
        return 2
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3.1"):
        print(f"api_contract: {spec_path}: expected an OpenAPI 3.1 document", file=sys.stderr)
        return 2
    contract = Contract(spec)
    failures = check_examples(contract)

    try:
        files = sorted(n for n in os.listdir(record_dir) if n.endswith(".jsonl"))
    except OSError as e:
        print(f"api_contract: cannot list the record directory {record_dir}: {e}", file=sys.stderr)
        return 2
    records = 0
    seen = {}
    sources = set()
    for name in files:
        with open(os.path.join(record_dir, name), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict) or set(record) != RECORD_FIELDS:
                        raise ValueError(f"expected the fields {sorted(RECORD_FIELDS)}")
                except ValueError as e:
                    failures.append(f"{name}:{number}: not a response record: {e}")
                    continue
                records += 1
                sources.add(record["source"])
                path = record["path"].split("?", 1)[0]
                key = f"{record['method'] or '(unparsed)'} {path or '(unparsed)'}"
                seen.setdefault(key, set()).add(str(record["status"]))
                failure = check_record(contract, record)
                if failure is not None:
                    failures.append(failure)

    if records == 0:
        failures.append(f"no responses recorded in {record_dir}: the HTTP tests ran without "
                        "DUANKA_API_RECORD_DIR, or recorded nothing, so the contract is unchecked")
    # The same failure from many responses (one test polling status) is one line with a count.
    distinct = {}
    for line in failures:
        distinct[line] = distinct.get(line, 0) + 1
    for line, times in list(distinct.items())[:MAX_FAILURE_LINES]:
        print(f"api_contract: FAIL {line}" + (f" [{times} responses]" if times > 1 else ""))
    if len(distinct) > MAX_FAILURE_LINES:
        print(f"api_contract: ... and {len(distinct) - MAX_FAILURE_LINES} more distinct failures")
    print(f"api_contract: {records} responses from {len(files)} files "
          f"({', '.join(sorted(sources)) or 'no source'}) against {spec_path}")
    for key in sorted(seen):
        print(f"api_contract:   {key}: {', '.join(sorted(seen[key]))}")
    if failures:
        print(f"api_contract: {len(failures)} failures")
        return 1
    print("api_contract: every response matches the spec")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
