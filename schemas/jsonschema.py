"""JSON Schema for every message model, generated from the pydantic models.

The generated files are committed under ``schemas/jsonschema/`` so gateway teams can validate
without Python; a test fails when they differ from the models. Regenerate with
``detoxmon schemas export``.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.acks import AlertAcknowledgement
from schemas.alerts import Alert
from schemas.deadletter import DeadLetter
from schemas.events import EVENT_MODELS
from schemas.pager_audit import PagerAudit
from schemas.state import PatientSnapshot

#: Where the committed schemas live.
SCHEMA_DIR = Path(__file__).parent / "jsonschema"

MODELS: dict[str, type[BaseModel]] = {
    **EVENT_MODELS,
    "alert": Alert,
    "alert_ack": AlertAcknowledgement,
    "dead_letter": DeadLetter,
    "pager_audit": PagerAudit,
    "patient_snapshot": PatientSnapshot,
}


def render() -> dict[str, str]:
    """Every schema file's text, by file name."""
    files = {}
    for kind, model in sorted(MODELS.items()):
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://detox-monitor.invalid/schemas/v1/{kind}.schema.json"
        files[f"{kind}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
