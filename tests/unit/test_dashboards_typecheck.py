"""The generated dashboards type-check against Grafana's own TypeScript types.

``tests/typecheck/check.sh`` installs the pinned ``@grafana/schema`` and ``typescript`` with
``npm ci``, writes one ``.ts`` file per dashboard (``const dashboard: DashboardJson = <json>``
and each panel as its plugin's typed panel) and compiles them with ``tsc --strict``. Skipped
only where ``npm`` is absent; CI has it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dashboards.export import DASHBOARDS, export_tree

CHECK = Path(__file__).resolve().parents[1] / "typecheck" / "check.sh"

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="npm and node are needed for the TypeScript check",
)


def _check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK), str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_generated_dashboards_type_check_against_grafana_schema(tmp_path: Path) -> None:
    export_tree(tmp_path)
    result = _check(tmp_path / "dashboards")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"generated {len(DASHBOARDS)} file(s)" in result.stdout


def test_the_check_rejects_what_grafana_would_not_read(tmp_path: Path) -> None:
    """The check is not vacuous: an unknown key and a wrong enum value are errors."""
    export_tree(tmp_path)
    ward = tmp_path / "dashboards" / "ward-overview.json"
    dashboard = json.loads(ward.read_text())
    dashboard["refesh"] = "30s"
    ward.write_text(json.dumps(dashboard))
    patient = tmp_path / "dashboards" / "patient-vitals.json"
    dashboard = json.loads(patient.read_text())
    dashboard["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["mode"] = "absolut"
    patient.write_text(json.dumps(dashboard))
    result = _check(tmp_path / "dashboards")
    assert result.returncode != 0
    assert "'\"refesh\"' does not exist in type" in result.stdout
    assert '"absolut"' in result.stdout
