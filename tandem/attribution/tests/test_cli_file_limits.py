"""The file CLI at its limits: more channels than exact Shapley enumerates, and numbers whose
sums leave the range of a float. Each is a result or one message with exit status 2, never a
traceback and never `inf` printed as an answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tandem.attribution.cli_file import main


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_shapley_over_more_than_20_channels_gives_the_identical_simplified_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"c{i} > c{(i + 1) % 25},1,{i + 1}" for i in range(25)]
    path = _write(tmp_path, "path,total_conversions,total_conversion_value\n" + "\n".join(rows))
    assert main([path, "--model", "shapley", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["channels"]) == 25
    assert sum(c["conversions"] for c in out["channels"].values()) == pytest.approx(25)
    assert sum(c["value"] for c in out["channels"].values()) == pytest.approx(325)


@pytest.mark.parametrize("model", ["first", "linear", "markov", "shapley"])
@pytest.mark.parametrize("table", [False, True])
def test_values_whose_total_is_no_finite_number_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, table: bool
) -> None:
    path = _write(
        tmp_path,
        "path,total_conversions,total_conversion_value\na,1,1.7e308\nb,1,1.7e308\na > b,1,1e308\n",
    )
    code = main([path, "--model", model, *([] if table else ["--json"])])
    captured = capsys.readouterr()
    assert code == 2
    assert "inf" not in captured.out.lower()
    assert "too large" in captured.err
    assert "Traceback" not in captured.err


def test_a_value_beyond_a_float_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "path,total_conversions,total_conversion_value\na,1,5\nb,1,1e309\n")
    assert main([path, "--model", "linear"]) == 2
    assert "line 3: total_conversion_value is not a finite number" in capsys.readouterr().err
