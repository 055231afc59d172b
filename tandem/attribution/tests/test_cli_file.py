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


def test_value_and_null_columns_are_optional_as_in_channelattribution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without total_conversion_value every value is 0; without total_null no path is a
    non-conversion; columns may come in any order, with CRLF line ends and quoted fields."""
    assert (
        main(
            [
                write(tmp_path, 'total_conversions,path\r\n1,a > b\r\n2,"b"\r\n'),
                "--model",
                "linear",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)["channels"]
    assert out["a"] == {"conversions": pytest.approx(0.5), "value": 0.0}
    assert out["b"]["conversions"] == pytest.approx(2.5)
    with_nulls = "path,total_null,total_conversions\na > b,3,1\nb,1,0\n"
    assert main([write(tmp_path, with_nulls), "--model", "markov", "--json"]) == 0
    markov = json.loads(capsys.readouterr().out)["channels"]
    assert sum(c["conversions"] for c in markov.values()) == pytest.approx(1.0)


def test_numbers_read_by_numpy_equal_pythons_float(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain decimals are parsed in numpy, the rest by float(); either way the same floats."""
    texts = [
        "193552.13000000003",
        "0.1",
        "-0.0",
        "+7",
        "007.50",
        "1e3",
        " 12 ",
        "123456789012345",
        "0.000000000000001",
        "9007199254740993",
        ".5",
        "5.",
    ]
    rows = "".join(f"c{i},1,{t},0\n" for i, t in enumerate(texts))
    path = write(tmp_path, "path,total_conversions,total_conversion_value,total_null\n" + rows)
    assert main([path, "--model", "first", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["channels"]
    assert [out[f"c{i}"]["value"] for i in range(len(texts))] == [float(t) for t in texts]


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
            "path,total_conversion_value,total_null\na,1,1\n",
            "line 1: missing column(s): total_conversions",
        ),
        (PATHS_CSV + "a > b,1e400,1,0\n", "line 6: total_conversions is not a finite number"),
        (PATHS_CSV + "a > b,1,x,0\n", "line 6: total_conversion_value is not a number: 'x'"),
        (PATHS_CSV + '"a > ""b""",1,1,0\n', "line 6: a quote inside a field is not supported"),
        (PATHS_CSV + "\n\na,1,1,-0.5\n", "line 8: total_null must not be negative"),
        ("path,total_conversions\n", "line 2: no data rows"),
        (TOUCH_CSV + "j3,1,,0,0\n", "line 5: empty channel"),
        (TOUCH_CSV + "j3,1,a,0,zero\n", "line 5: value is not a number"),
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
