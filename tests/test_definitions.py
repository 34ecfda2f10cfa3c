"""Definitions: defaults as the README, TOML round trip, thresholds, validation."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes import Definitions, DefinitionsError


def test_defaults_match_design():
    d = Definitions()
    assert (d.relief_min_points, d.relief_min_fraction, d.relief_rule) == (2.0, 0.30, "both")
    assert (d.success_target_hours, d.success_window_low_hours, d.success_window_high_hours) == (672, 336, 2016)
    assert d.early_max_fracture_age_days == 42 and d.relief_horizon_hours == 48


@pytest.mark.parametrize(("rule", "baseline", "threshold"), [
    # IMMPACT: a fall of max(2 points, 30%): baseline 10 needs 3 points -> 7; baseline 5 needs 2 -> 3
    ("both", 10, 7.0), ("both", 5, 3.0), ("both", 8, 5.6), ("both", 6, 4.0),
    ("either", 10, 8.0), ("either", 5, 3.5), ("points", 10, 8.0), ("fraction", 5, 3.5),
])
def test_relief_threshold(rule, baseline, threshold):
    assert Definitions(relief_rule=rule).relief_threshold(baseline) == pytest.approx(threshold)


def test_floating_point_boundary_counts_as_relief():
    # 0.3 * 10 is 3.0000000000000004 in floating point; a fall of exactly 3 from 10 is relief.
    assert Definitions().is_relief([7, 7.01, 8], [10, 10, 10]).tolist() == [True, False, False]
    assert Definitions().is_relief([np.nan], [8]).tolist() == [False]


def test_toml_round_trip(tmp_path):
    path = tmp_path / "defs.toml"
    path.write_text('[relief]\nmin_points = 3\nrule = "points"\n[early_treatment]\nmax_fracture_age_days = 28\n')
    d = Definitions.from_toml(path)
    assert d.relief_min_points == 3.0 and d.relief_rule == "points" and d.early_max_fracture_age_days == 28
    assert Definitions.from_dict(d.to_dict()) == d
    assert d.digest() != Definitions().digest() and len(d.digest()) == 64


def test_describe_uses_settings():
    text = " ".join(Definitions(relief_min_points=3).describe())
    assert "at least 3 points and at least 30% of the baseline score" in text
    assert "nearest 4 weeks, within 2 weeks to 12 weeks" in text


def test_input_validation(tmp_path):
    with pytest.raises(DefinitionsError, match=r"`relief.rule` must be one of 'both', 'either', 'points', 'fraction'; got 'all'"):
        Definitions(relief_rule="all")
    with pytest.raises(DefinitionsError, match=r"`relief_min_points` must be a non-negative number; got -1"):
        Definitions(relief_min_points=-1)
    with pytest.raises(DefinitionsError, match=r"`relief.min_fraction` must be a fraction between 0 and 1; got 30.0"):
        Definitions(relief_min_fraction=30)
    with pytest.raises(DefinitionsError, match=r"`success.target_hours` must lie inside the success window"):
        Definitions(success_target_hours=5000)
    path = tmp_path / "d.toml"
    path.write_text("[relief]\nthreshold = 2\n")
    with pytest.raises(DefinitionsError, match=r"`relief.threshold` in d.toml must be one of relief.min_points"):
        Definitions.from_toml(path)
    with pytest.raises(DefinitionsError, match=r"Definitions file missing.toml was not found"):
        Definitions.from_toml(tmp_path / "missing.toml")
