"""Drives Feast's own Python SDK against Tessera, as a team coming from Feast would.

Reads one JSON document on stdin: {"url", "repo_dir", "catalog", "calls": [...]}. Declares
Tessera's catalog as a Feast repo (entities, feature views, on-demand feature views and
feature services, `online_store: {type: remote, path: url}`), applies it to a local registry,
then makes each call with `FeatureStore.get_online_features` and writes one JSON document on
stdout: per call, the SDK's answer (names, values with their Python types, statuses) or the
error it raised. Nothing here knows Tessera's API: only Feast's SDK talks to the server.
"""

import json
import sys
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus
from feast.types import Array, Bool, Float64, Int64, String

TYPES = {
    "float": Float64,
    "int": Int64,
    "string": String,
    "bool": Bool,
    "float[]": Array(Float64),
    "int[]": Array(Int64),
    "string[]": Array(String),
}
PLACEHOLDER = {"float": 0.0, "int": 0, "string": "", "bool": False, "float[]": [0.0], "int[]": [0], "string[]": [""]}
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text):
    return timedelta(**{UNITS[text[-1]]: int(text[:-1])}) if text else timedelta(0)


def feast_repo(catalog, repo_dir):
    entities = {
        e["name"]: Entity(
            name=e["name"],
            join_keys=[e["joinKey"]],
            value_type=ValueType.INT64 if e["keyType"] == "int" else ValueType.STRING,
        )
        for e in catalog["entities"]
    }
    key_types = {e["name"]: e["keyType"] for e in catalog["entities"]}
    views = {}
    for v in catalog["featureViews"]:
        keys = [Field(name=entities[e].join_key, dtype=Int64 if key_types[e] == "int" else String) for e in v["entities"]]
        views[v["name"]] = FeatureView(
            name=v["name"],
            entities=[entities[e] for e in v["entities"]],
            ttl=duration(v["ttl"]),
            schema=keys + [Field(name=f["name"], dtype=TYPES[f["type"]]) for f in v["features"]],
            # Tessera keeps the offline rows; this source is never read by the remote online store.
            source=FileSource(name=f"{v['name']}_rows", path=str(Path(repo_dir) / f"{v['name']}.parquet"), timestamp_field="event_ts"),
            online=True,
            tags={t: "" for t in v["tags"]},
        )
    on_demand = {}
    for o in catalog["onDemandFeatures"]:
        request = RequestSource(
            name=f"{o['name']}_request",
            schema=[Field(name=name, dtype=TYPES[spec.get("type", "string")]) for name, spec in request_fields(o["request"]).items()],
        )
        inputs = sorted({ref.split(":")[0] for ref in o["inputs"]})

        outputs = {f["name"]: PLACEHOLDER[f["type"]] for f in o["features"]}

        # Tessera computes on-demand features in its serve path; with the remote online store the
        # SDK never runs this function. `feast apply` calls it once, to infer the output types.
        def computed_by_tessera(inputs, outputs=outputs):
            rows = len(next(iter(inputs.values()), []))
            return {name: [value] * rows for name, value in outputs.items()}

        on_demand[o["name"]] = on_demand_feature_view(
            name=o["name"],
            sources=[request, *[views[i] for i in inputs]],
            schema=[Field(name=f["name"], dtype=TYPES[f["type"]]) for f in o["features"]],
            mode="python",
        )(computed_by_tessera)
    services = []
    for s in catalog["featureServices"]:
        by_view = {}
        for ref in s["features"]:
            view, feature = ref.split(":")
            by_view.setdefault(view, []).append(feature)
        projections = [(views.get(view) or on_demand[view])[features] for view, features in by_view.items()]
        services.append(FeatureService(name=s["name"], features=projections))
    return [*entities.values(), *views.values(), *on_demand.values(), *services]


def request_fields(schema):
    """A JSON schema's properties, typed the way the catalog types features."""
    kinds = {"number": "float", "integer": "int", "string": "string", "boolean": "bool"}
    return {name: {"type": kinds.get(p.get("type"), "string")} for name, p in schema.get("properties", {}).items()}


def call(store, spec):
    features = store.get_feature_service(spec["service"]) if "service" in spec else spec["features"]
    try:
        response = store.get_online_features(
            features=features,
            entity_rows=spec["entity_rows"],
            full_feature_names=spec.get("full_feature_names", False),
            include_feature_view_version_metadata=spec.get("include_feature_view_version_metadata", False),
        )
    except Exception as error:  # the SDK's own error, as a user would see it
        return {"ok": False, "error_type": type(error).__name__, "error": str(error)}
    values = response.to_dict()
    names = list(response.proto.metadata.feature_names.val)
    statuses = {name: [FieldStatus.Name(s) for s in result.statuses] for name, result in zip(names, response.proto.results)}
    return {
        "ok": True,
        "feature_names": names,
        "values": values,
        "types": {name: [type(v).__name__ for v in column] for name, column in values.items()},
        "statuses": statuses,
    }


def main():
    spec = json.load(sys.stdin)
    repo = Path(spec["repo_dir"])
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "\n".join(
            [
                "project: tessera_migration",
                "provider: local",
                f"registry: {repo / 'registry.db'}",
                "online_store:",
                "  type: remote",
                f"  path: {spec['url']}",
                "entity_key_serialization_version: 3",
                "",
            ]
        )
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply(feast_repo(spec["catalog"], repo))
    answers = {c["id"]: call(store, c) for c in spec["calls"]}
    json.dump({"feast_version": __import__("feast").__version__, "answers": answers}, sys.stdout)


if __name__ == "__main__":
    main()
