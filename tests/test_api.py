"""The public API is pinned: names are part of the contract (the README)."""

import outcomes


def test_all_is_sorted_and_pinned():
    assert outcomes.__all__ == sorted(outcomes.__all__)
    assert set(outcomes.__all__) >= {
        "Cohort", "Definitions", "InputError", "PrivacyError", "StatisticalWarning",
        "derive_endpoints", "load_records",
    }
    for name in outcomes.__all__:
        assert hasattr(outcomes, name), name


def test_error_tree():
    assert issubclass(outcomes.InputError, (outcomes.OutcomesError, ValueError))
    assert issubclass(outcomes.PrivacyError, outcomes.InputError)
    assert issubclass(outcomes.StatisticalWarning, RuntimeWarning)
