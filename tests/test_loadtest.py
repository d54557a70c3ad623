"""scripts/loadtest.py end to end, briefly: the demo dataset on SQLite, a dozen clients for
five seconds, the server killed with SIGKILL halfway and restarted, then the script's own
checks (nothing acknowledged missing, decisions as acknowledged, rollups equal a rebuild).
The script makes its own SQLite database, so the suite's PostgreSQL run skips it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(bool(os.environ.get("YANXIU_TEST_DATABASE_URL")),
                                reason="the load test script brings its own SQLite database")

ROOT = Path(__file__).resolve().parents[1]


def test_loadtest_survives_a_killed_server_and_loses_nothing(tmp_path):
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "loadtest.py"), "--seconds", "5", "--clients", "12",
         "--pending", "150", "--kill", "--db", str(tmp_path / "lt.db"), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    figures = json.loads(out.read_text())
    assert figures["ok"] and not figures["failures"]
    assert len(figures["kills"]) == 1 and figures["server_starts"] == 2
    # The kill was felt: clients lost connections and retried.
    assert sum(k["connection_errors"] for k in figures["kinds"].values()) > 0
    assert all(k["5xx"] == 0 for k in figures["kinds"].values())
    records = figures["checks"]["records"]
    assert records["acknowledged"] > 0 and records["missing"] == 0
    assert records["stored"] == records["acknowledged"] + records["stored_not_acknowledged"]
    decisions = figures["checks"]["decisions"]
    assert decisions["acknowledged"] > 0
    assert decisions["not_in_acknowledged_state"] == 0 and decisions["decided_twice"] == 0
    assert figures["checks"]["rollups"]["ok"] and figures["checks"]["audit_chain"]["ok"]
    assert "verified: all acknowledged work is in the database" in run.stdout
