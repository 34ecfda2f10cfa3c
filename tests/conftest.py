"""Shared fixtures: small hand-made records, written as files where a test needs a path; CI's
PostgreSQL database; one Spark session per test process."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest


@pytest.fixture
def procedures_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "procedure_id": ["P1", "P2", "P3", "P4"],
        "patient_id": ["A", "B", "C", "C"],
        "procedure": ["vertebroplasty", "PVP", "kyphoplasty", "22514"],
        "procedure_date": ["2022-01-03", "2022-01-10", "2022-02-01", "2022-06-01"],
        "fracture_date": ["2021-12-20", "2021-10-01", "2022-01-25", "2022-05-30"],
        "baseline_pain": [8, 7, 9, 6],
        "discharge": ["same_day", "overnight", "same day", "admitted"],
        "age": [71, 90, 66, 67],
        "sex": ["F", "female", "M", "m"],
    })


@pytest.fixture
def assessments_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "procedure_id": ["P1", "P1", "P1", "P2", "P2", "P3", "P3", "P4"],
        "hours_after": [2, 48, 700, 24, 672, 2, 650, 48],
        "pain": [7, 5, 4, 6, 6, 3, 2, 2],
    })


@pytest.fixture
def write_csv(tmp_path):
    def _write(frame: pd.DataFrame, name: str):
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path
    return _write


# Spark settings for registries of a few thousand rows: the JVM's quick compiler only, no
# whole-stage code generation, two shuffle partitions (Spark's time there is compiling, not
# computing, and these halve it). They tune speed only, not results.
SMALL_DATA = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.codegen.wholeStage": "false",
}


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession per test process (each xdist worker), stopped when it ends: the JVM
    starts once, not once per module that uses Spark. Tests that change a session setting put it
    back; a test must not stop it."""
    from outcomes.engines import start_spark

    session = start_spark(SMALL_DATA)
    yield session
    session.stop()


def pytest_collection_modifyitems(items):
    """Tests that use the ``spark`` fixture are marked ``spark`` (``-m 'not spark'`` leaves them out;
    .ci/run's pandas 2 pass does)."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture
def postgres_url():
    """CI's PostgreSQL test database (OUTCOMES_TEST_POSTGRES_URL); a test that needs it fails, never
    skips, without it."""
    url = os.environ.get("OUTCOMES_TEST_POSTGRES_URL", "")
    if not url:
        pytest.fail("OUTCOMES_TEST_POSTGRES_URL must name a PostgreSQL test database; got it unset "
                    "(.ci/run starts the server and sets it).")
    return url
