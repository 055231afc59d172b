"""The file CLI, in-process and as a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tandem.attribution.cli_file import main

ROOT = Path(__file__).resolve().parents[3]
PATHS_CSV = (
    "path,total_conversions,total_conversion_value,total_null\n"
    "a > b,1,10,0\nb > c,0,0,2\na,1,5,1\nc>a>a>b,1,7,0\n"
)
TOUCH_CSV = (
    "journey_id,ts,channel,converted,value\n"
    "j1,2024-01-08T00:00:00Z,b,1,70\n"
    "j1,2024-01-01T00:00:00Z,a,1,70\n"
    "j2,1704067200,c,0,\n"
)


def write(tmp_path: Path, text: str | bytes, name: str = "in.csv") -> str:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return str(p)


def test_markov_json_on_aggregated_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([write(tmp_path, PATHS_CSV), "--model", "markov", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "markov"
    # hand-worked in test_engine_models: RE = 2/3, 13/18, 1/6; credit (12, 13, 3) / 28 * 3
    assert out["channels"]["a"]["removal_effect"] == pytest.approx(2 / 3)
    assert out["channels"]["b"]["conversions"] == pytest.approx(39 / 28)
    assert set(out["channels"]["c"]) == {"conversions", "value", "removal_effect"}


def test_table_on_touchpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([write(tmp_path, TOUCH_CSV), "--model", "linear"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model: linear"
    assert lines[1].split() == ["channel", "conversions", "value"]
    assert lines[2].split() == ["a", "0.5000", "35.00"]
    assert lines[4].split() == ["c", "0.0000", "0.00"]
    assert lines[5].split() == ["total", "1.0000", "70.00"]
    assert len({len(line) for line in lines[1:]}) == 1  # aligned columns


def test_time_decay_on_touchpoints_uses_timestamps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a is 7 days before b; default half-life 7 days: weights 1/2 and 1 -> 1/3, 2/3
    assert main([write(tmp_path, TOUCH_CSV), "--model", "time-decay", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["channels"]
    assert out["a"]["conversions"] == pytest.approx(1 / 3)
    assert "removal_effect" not in out["a"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "path,total_conversions,total_conversion_value\na,1,1\n",
            "line 1: missing column(s): total_null",
        ),
        (PATHS_CSV + "a > b,one,1,0\n", "line 6: total_conversions is not a number"),
        (PATHS_CSV + " ,1,1,0\n", "line 6: empty path"),
        (PATHS_CSV + "a >> b,1,1,0\n", "line 6: empty channel"),
        (PATHS_CSV + "a,1,1\n", "line 6: expected at least 4 fields"),
        (PATHS_CSV + "a,-1,1,0\n", "line 6: total_conversions must not be negative"),
        (TOUCH_CSV + "j3,yesterday,a,0,0\n", "line 5: ts is neither ISO-8601 nor epoch"),
        ("who,what\n1,2\n", "line 1: header must contain"),
        ("", "line 1: empty file"),
        (
            b"path,total_conversions,total_conversion_value,total_null\n\xff\xfe,1,1,0\n",
            "not UTF-8",
        ),
    ],
)
def test_malformed_files_exit_2_with_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, message: str
) -> None:
    assert main([write(tmp_path, content), "--model", "first"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_missing_file_and_bad_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.csv"), "--model", "first"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([write(tmp_path, PATHS_CSV), "--model", "markov", "--order", "4"]) == 2
    assert "--order" in capsys.readouterr().err


def test_subprocess(tmp_path: Path) -> None:
    good = write(tmp_path, PATHS_CSV)
    cmd = [sys.executable, "-m", "tandem.attribution.cli_file"]
    ok = subprocess.run(
        [*cmd, good, "--model", "shapley", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["channels"]["a"]["conversions"] == pytest.approx(11 / 6)
    bad = write(tmp_path, PATHS_CSV + "a,x,1,0\n", "bad.csv")
    err = subprocess.run(
        [*cmd, bad, "--model", "first"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert err.returncode == 2
    assert "line 6" in err.stderr
    assert "Traceback" not in err.stderr
    usage = subprocess.run(
        [*cmd, good, "--model", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2
    assert "tandem attribution-file" in usage.stderr
