#!/usr/bin/env python3
"""Writes docs/json/sledger.schema.json: a JSON Schema for every document
`sledger --json` prints (and the error object it writes to stderr).

The shapes the node's API shares with the CLI are copied from
docs/openapi.json (components.schemas -> $defs), so that both documents
state one vocabulary; the CLI's own documents are written here. Run it
after changing either: `python3 docs/json/generate.py`. tests/json_schemas.rs
validates real outputs of every command against the result, and fails if
the file is stale.
"""
import collections
import json
import pathlib
import sys

OD = collections.OrderedDict
HERE = pathlib.Path(__file__).resolve().parent
api = json.loads((HERE.parent / "openapi.json").read_text(), object_pairs_hook=OD)


def rewrite(v):
    """OpenAPI's refs, pointed at this document's $defs."""
    if isinstance(v, dict):
        return OD((k, rewrite(x)) for k, x in v.items())
    if isinstance(v, list):
        return [rewrite(x) for x in v]
    if isinstance(v, str) and v.startswith("#/components/schemas/"):
        return "#/$defs/" + v[len("#/components/schemas/"):]
    return v


defs = rewrite(api["components"]["schemas"])
H = OD([("type", "string"), ("pattern", "^[0-9a-f]{64}$")])
U = OD([("type", "integer"), ("minimum", 0)])
S = OD([("type", "string")])
B = OD([("type", "boolean")])


def obj(props, required=None, description=None, strict=True):
    o = OD()
    if description:
        o["description"] = description
    o["type"] = "object"
    o["properties"] = OD(props)
    o["required"] = list(required if required is not None else OD(props).keys())
    if strict:
        o["additionalProperties"] = False
    return o


def ref(name):
    return OD([("$ref", "#/$defs/" + name)])


def arr(item):
    return OD([("type", "array"), ("items", item)])


params = defs["Status"]["properties"]["params"]
key = obj(
    [("name", S), ("public_key", H), ("fingerprint", S), ("has_secret", B)],
    description="A signing key: `has_secret` when the secret key is in the keys directory.",
)
commands = OD()
commands["init"] = obj([("data_dir", S), ("genesis", H), ("params", params)])
commands["submit"] = ref("Submitted")
commands["pending"] = ref("Pending")
commands["mine"] = OD([("description", "One object a line, per block sealed."), ("$ref", "#/$defs/MinedBlock")])
commands["block"] = ref("Block")
commands["chain"] = ref("Chain")
commands["chain --tips"] = ref("Tips")
commands["tx"] = ref("Tx")
commands["txs"] = ref("AuthorTxs")
commands["verify"] = ref("Verify")
commands["migrate"] = obj([("from", U), ("to", U), ("current", U)])
network = defs["Status"]["properties"]["node"]["properties"]["network"]
commands["status"] = OD(
    [
        (
            "description",
            "`status`: the API's Status without `node`; through a node that runs the network, its `network` part at the top level.",
        ),
        ("allOf", [ref("Status"), obj([("network", network)], required=[], strict=False)]),
    ]
)
commands["export"] = obj(
    [("block_count", U), ("file", S)],
    description="`export -o FILE --json` (to stdout, the export itself is the output).",
)
commands["import"] = ref("Import")
commands["key new"] = key
commands["key show"] = key
commands["key import-public"] = key
commands["key list"] = obj([("dir", S), ("keys", arr(key))])
commands["demo"] = obj(
    [
        ("data_dir", S),
        ("submitted", arr(H)),
        ("refused", arr(S)),
        (
            "blocks",
            arr(
                OD(
                    [
                        ("allOf", [ref("Block"), obj([("mining", ref("MinedBlock"))], strict=False)]),
                    ]
                )
            ),
        ),
        ("verified", obj([("block_count", U), ("transaction_count", U), ("tip", ref("TipRef"))])),
    ]
)
commands["node"] = obj(
    [("address", S), ("pid", U), ("cookie", S), ("peer_id", S), ("p2p", arr(S))],
    required=["address", "pid", "cookie"],
    description="The node's first line: where it listens; `peer_id` and `p2p` with the network.",
)
commands["open"] = OD([("description", "`open`: the explorer's one-time login URL."), ("$ref", "#/$defs/ExplorerLogin")])
commands["peers"] = ref("Peers")
commands["peers add"] = ref("PeerAdded")
commands["peers ban"] = ref("PeerBanned")
commands["peers unban"] = ref("PeerUnbanned")
setting = obj([("value", OD()), ("source", OD([("type", "string"), ("enum", ["default", "file", "flag"])]))])
commands["config show"] = obj(
    [
        ("file", OD([("type", "string"), ("nullable", True)])),
        ("settings", OD([("type", "object"), ("additionalProperties", setting)])),
    ]
)
event = lambda name, schema: OD(
    [("allOf", [obj([("event", OD([("type", "string"), ("enum", [name])]))], strict=False), ref(schema)])]
)
commands["watch"] = OD(
    [
        ("description", "One object a line, per event of the node: its name in `event`, beside the fields of the API's event."),
        ("oneOf", [event("block", "MinedBlock"), event("mining", "Mining"), event("tip", "TipEvent"), event("entry", "EntryEvent")]),
    ]
)
commands["bench"] = obj(
    [("rates", arr(obj([("name", S), ("threads", U), ("hashes", U), ("seconds", OD([("type", "number")])), ("per_second", OD([("type", "number")])), ("vs_reference", OD([("type", "number")]))])))],
    description="`bench` (mining rates); `bench store` prints `{\"store\": [...]}`, one report per ledger size.",
)
hh = obj([("height", U), ("hash", H)])
commands["salvage"] = obj(
    [
        ("to", S),
        ("genesis", H),
        ("tip", hh),
        ("block_count", U),
        ("pending_count", U),
        ("recorded_tip", OD([("allOf", [hh]), ("nullable", True)])),
        ("found_count", U),
        ("left_out", arr(hh)),
        ("refused", OD([("allOf", [obj([("height", U), ("hash", H), ("reason", S)])]), ("nullable", True)])),
        ("pending_refused_count", U),
        ("problems", arr(S)),
    ],
    description="`salvage --to NEW_DIR`: the rebuilt ledger (`tip`, counts), the tip the damaged store recorded (null if unreadable), the distinct blocks found, those left out (a lighter branch, or a lost parent), the first block refused by the checks, and what went wrong reading.",
)
error = obj(
    [("error", S), ("code", OD([("type", "string"), ("enum", None)]))],
    description="Any command's error with --json, on stderr (exit 1, 2 or 130): the message and a stable code (docs/API.md, \"Errors\").",
)
codes = [
    "usage", "interrupted", "failed", "bad_request", "unauthorized", "not_found", "method_not_allowed",
    "timeout", "conflict", "too_large", "unsupported_media_type", "rejected", "unavailable", "disk_full",
    "internal", "io", "node_unreachable", "no_ledger", "not_a_ledger", "already_exists", "locked",
    "schema", "corrupt", "verify_failed", "nothing_pending", "tip_mismatch",
]
error["properties"]["code"]["enum"] = codes
commands["error"] = error

for name, schema in commands.items():
    defs["command: " + name] = schema

doc = OD(
    [
        ("$schema", "https://json-schema.org/draft/2020-12/schema"),
        ("title", "sledger --json"),
        (
            "description",
            "Every document `sledger --json COMMAND` prints: `#/$defs/command: NAME` for each command "
            "(e.g. `#/$defs/command: status`), and `#/$defs/command: error` for the error object on "
            "stderr. The other $defs are the shapes shared with the node's API (docs/openapi.json). "
            "`nullable` is OpenAPI 3.0's: null is allowed too.",
        ),
        ("$defs", defs),
    ]
)
out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "sledger.schema.json"
out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
