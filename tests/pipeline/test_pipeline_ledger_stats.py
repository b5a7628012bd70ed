"""The resume ledger, and ``signverse stats`` on SignVerse-2M's real manifest."""
from __future__ import annotations

import json
import sqlite3

from conftest import shared
from signverse.pipeline.ledger import LEDGER_NAME, Ledger


def test_ledger_states_survive_reopen(tmp_path):
    with Ledger(tmp_path) as led:
        assert led.register(["a", "b", "c"], languages={"a": "ase"}) == 3
        assert led.register(["a", "d"]) == 1
        assert led.start("a") == 1 and led.state("a") == "running"
        led.done("a", clips=4, frames=96, seconds=4.0, rejected=1)
        assert led.start("b") == 1
        led.fail("b", "x.mp4: empty file\n(0 bytes)")
        assert led.start("b") == 2
        led.fail("b", "x.mp4: empty file (0 bytes)")
        led.start("c")                      # then a crash: c stays "running"
    mode = sqlite3.connect(tmp_path / LEDGER_NAME).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    with Ledger(tmp_path, create=False) as led:
        assert led.counts() == {"pending": 1, "running": 1, "done": 1, "failed": 1}
        assert led.done_ids() == {"a"}
        (b,) = led.rows("failed")
        assert (b.video_id, b.attempts, b.reason) == ("b", 2, "x.mp4: empty file (0 bytes)")
        assert led.totals() == {"clips": 4, "rejected_clips": 1, "frames": 96, "hours": 4.0 / 3600}
        led.reset_attempts(["b", "a"])
        assert led.rows("failed")[0].attempts == 0 and led.rows("done")[0].attempts == 1


def test_stats_on_signverse2m_manifest(cli, tmp_path):
    csv = shared("signverse2m", "metadata.csv")
    png = tmp_path / "langs.png"
    res = cli("stats", str(csv), "--plot", str(png))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].endswith("39197 videos, 56 sign-language labels")
    assert any(line.split()[:2] == ["ase", "16724"] for line in lines)
    assert any(line.startswith("slovenia") and "not ISO 639-3" in line for line in lines)
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(cli("stats", str(csv), "--json").stdout)
    assert data["videos"] == 39197 and data["n_languages"] == 56
    assert data["languages"]["vietnam"] == {"videos": 36, "share": 36 / 39197, "iso639_3": False}
    assert data["nonstandard_labels"] == {"???": 197, "slovenia": 139, "vietnam": 36}


def test_status_without_ledger_is_a_user_error(cli, tmp_path):
    res = cli("status", str(tmp_path))
    assert res.returncode == 2 and "ledger" in res.stderr and "Traceback" not in res.stderr
