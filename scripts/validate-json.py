#!/usr/bin/env python3
"""Validate wstrace JSON documents and NDJSON streams against docs/schema.json.

usage: validate-json.py SCHEMA FILE...   (files ending in .ndjson are read line by line; a
file holding one object with "type": "stats" is checked as `wstrace stats --format json`)
Prints one line per problem and exits 1 if any; prints "ok N" otherwise.
"""
import json
import sys

from jsonschema import Draft202012Validator


def main() -> int:
    schema = json.load(open(sys.argv[1]))
    Draft202012Validator.check_schema(schema)
    defs = schema["$defs"]
    validators = {
        name: Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": defs})
        for name in ("Document", "Event", "Connection", "Capture", "PatternLine", "DiagnosisUpdate", "Stats")
    }
    problems = 0
    checked = 0
    for path in sys.argv[2:]:
        raw = open(path, "rb").read()
        text = raw.decode("utf-8")  # must be valid UTF-8
        if path.endswith(".ndjson"):
            lines = text.splitlines()
            if not lines or json.loads(lines[-1]).get("type") != "capture":
                print(f"{path}: last line is not a capture object")
                problems += 1
            for n, line in enumerate(lines, 1):
                obj = json.loads(line)
                kind = {"event": "Event", "connection": "Connection", "capture": "Capture", "pattern": "PatternLine",
                        "diagnosis_update": "DiagnosisUpdate"}.get(obj.get("type"))
                if kind is None:
                    print(f"{path}:{n}: unknown type {obj.get('type')!r}")
                    problems += 1
                    continue
                for err in validators[kind].iter_errors(obj):
                    print(f"{path}:{n}: {err.json_path}: {err.message}")
                    problems += 1
                checked += 1
        else:
            obj = json.loads(text)
            # `wstrace stats --format json` prints one Stats object; `read` one Document.
            for err in validators["Stats" if obj.get("type") == "stats" else "Document"].iter_errors(obj):
                print(f"{path}: {err.json_path}: {err.message}")
                problems += 1
            checked += 1
    if problems:
        return 1
    print(f"ok {checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
