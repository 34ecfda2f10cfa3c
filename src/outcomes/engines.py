"""Where the registry SQL runs: DuckDB in process, Apache Spark, PostgreSQL.

The SQL of the registry engine (``outcomes/sql/*.sql`` and the few statements
:mod:`outcomes.registry` builds) is written once, in DuckDB's dialect and in constructs the three
engines share (window ranks rather than ``arg_min``, explicit column lists rather than
``* EXCLUDE``). :func:`transpile` carries it to Spark SQL and PostgreSQL with SQLGlot; nothing is
written twice by hand. Each engine here offers the same five operations the registry needs:
materialise a table from a query, fetch a (small) result as Arrow, push a small table of values,
list a table's columns, close.

Only small tables travel: the distinct raw values of coded columns (out, then back as
``(raw, value)`` tables), the relief threshold of each distinct baseline, and the tallies.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tempfile
from typing import Any

import numpy as np
import pyarrow as pa

from .exceptions import InputError

__all__ = ["NUMBER_PATTERN", "WHITESPACE", "DuckDBEngine", "PostgresEngine", "SparkEngine", "literal", "size_bytes",
           "start_spark", "transpile"]

# The characters Python's str.strip() (and pandas' .str.strip()) remove: trimmed from ids in SQL.
WHITESPACE = "".join(map(chr, (9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, *range(8192, 8203),
                               8232, 8233, 8239, 8287, 12288)))
_TYPES = {  # Spark / PostgreSQL type names -> the DuckDB names the one SQL source uses
    "string": "VARCHAR", "varchar": "VARCHAR", "text": "VARCHAR", "character varying": "VARCHAR", "char": "VARCHAR",
    "bigint": "BIGINT", "long": "BIGINT", "int": "INTEGER", "integer": "INTEGER", "smallint": "SMALLINT",
    "short": "SMALLINT", "tinyint": "TINYINT", "byte": "TINYINT", "double": "DOUBLE", "double precision": "DOUBLE",
    "float": "FLOAT", "real": "FLOAT", "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP",
    "timestamp without time zone": "TIMESTAMP", "timestamp with time zone": "TIMESTAMP", "date": "DATE",
    "binary": "BLOB", "bytea": "BLOB", "numeric": "DOUBLE",
}


def literal(value: Any) -> str:
    """A SQL literal every engine reads: text quoted, numbers as exact doubles."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    number = float(value)
    if np.isnan(number):
        return "CAST('nan' AS DOUBLE)"
    if np.isinf(number):
        return f"CAST('{'inf' if number > 0 else '-inf'}' AS DOUBLE)"
    return f"CAST({number!r} AS DOUBLE)"


# The text DuckDB's TRY_CAST(text AS DOUBLE) reads as a number, once trimmed and without "_"
# (digit groups) or a leading "+-", which checks.number_sql refuses before the cast: decimals
# with an optional exponent, inf, infinity and nan in any case. Written with character classes
# only, so RE2 (DuckDB), Java (Spark) and PostgreSQL read it alike; tests/test_engines_duckdb.py
# holds it equal to DuckDB's cast on random text.
NUMBER_PATTERN = ("^[+-]?(([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?"
                  "|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$")
# PostgreSQL, which has no TRY_CAST and refuses a number beyond the range of a double: text cast
# directly when its digits and exponent cannot leave that range, else through NUMERIC (exact)
# when NUMERIC holds it, else by its signs (a huge exponent); beyond the largest double it is
# +-infinity and below the smallest it is 0, as DuckDB and Spark read it. The bounds are the
# halfway points 2**1024 - 2**970 and 2**-1075, rounded inwards so that a cast never fails.
_PG_SAFE = ("^[+-]?([0-9]{1,250}([.][0-9]{0,250})?|[.][0-9]{1,250})$|^[+-]?([0-9]{1,30}([.][0-9]{0,30})?|[.][0-9]{1,30})"
            "[eE][+-]?0*[0-9]{1,2}$|^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$")
_PG_NUMBER = f"""CASE WHEN CAST(_x_ AS TEXT) ~ '{NUMBER_PATTERN}' THEN CASE
    WHEN CAST(_x_ AS TEXT) ~ '{_PG_SAFE}' THEN CAST(CAST(_x_ AS TEXT) AS DOUBLE PRECISION)
    WHEN length(CAST(_x_ AS TEXT)) <= 1000 AND CAST(_x_ AS TEXT) ~ '^[^eE]*([eE][+-]?0*[0-9]{{1,4}})?$' THEN CASE
        WHEN abs(CAST(CAST(_x_ AS TEXT) AS NUMERIC)) >= 1.7976931348623158079e308
            THEN CASE WHEN CAST(_x_ AS TEXT) ~ '^-' THEN CAST('-Infinity' AS DOUBLE PRECISION)
                      ELSE CAST('Infinity' AS DOUBLE PRECISION) END
        WHEN abs(CAST(CAST(_x_ AS TEXT) AS NUMERIC)) <= 2.4703282292062327209e-324 THEN CAST(0 AS DOUBLE PRECISION)
        ELSE CAST(CAST(_x_ AS TEXT) AS DOUBLE PRECISION) END
    WHEN CAST(_x_ AS TEXT) ~ '^[+-]?[0.]*([eE]|$)' OR CAST(_x_ AS TEXT) ~ '[eE]-' THEN CAST(0 AS DOUBLE PRECISION)
    WHEN CAST(_x_ AS TEXT) ~ '^-' THEN CAST('-Infinity' AS DOUBLE PRECISION)
    ELSE CAST('Infinity' AS DOUBLE PRECISION)
END END"""


def _number_guard(node: Any, dialect: str) -> Any:
    """``TRY_CAST(x AS DOUBLE)`` where the dialect's own cast would read other text, or fail.

    Spark's cast also reads "1d" and "0x1p3" (Java's parser): it is guarded by NUMBER_PATTERN.
    PostgreSQL has no TRY_CAST (SQLGlot writes CAST, which stops the query on "abc"): the
    pattern, then the range, decide before any cast (``_PG_NUMBER``).
    """
    import sqlglot
    from sqlglot import exp

    operand = node.this
    if dialect == "spark":
        test = exp.RegexpLike(this=exp.cast(operand.copy(), "VARCHAR"), expression=exp.Literal.string(NUMBER_PATTERN))
        return exp.Case(ifs=[exp.If(this=test, true=node.copy())])
    guard = sqlglot.parse_one(_PG_NUMBER, read="postgres")
    for column in list(guard.find_all(exp.Column)):
        if column.name == "_x_":
            column.replace(operand.copy())
    return guard


def transpile(sql: str, dialect: str) -> str:
    """One statement of the DuckDB-dialect source in ``dialect`` ("duckdb", "spark", "postgres").

    ``ws_trim(x)`` (trim the whitespace of Python's ``str.strip``; a macro in DuckDB) becomes
    ``TRIM(chars FROM x)``; Spark drops ``MATERIALIZED`` on common table expressions;
    ``TRY_CAST(x AS DOUBLE)`` reads the numbers DuckDB reads (:data:`NUMBER_PATTERN`) and, on
    PostgreSQL, which has no TRY_CAST, never stops the query (NULL for any other text).
    """
    if dialect == "duckdb":
        return sql
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "ws_trim":
            return exp.Trim(this=node.expressions[0], expression=exp.Literal.string(WHITESPACE))
        if dialect == "spark" and isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)
        if isinstance(node, exp.TryCast) and node.to.is_type(exp.DataType.Type.DOUBLE):
            return _number_guard(node, dialect)
        return node

    # deepest last: replace() keeps children; the casts after, as their guards copy the operand
    for kinds in ((exp.Anonymous, exp.CTE), (exp.TryCast,)):
        for node in list(tree.find_all(*kinds)):
            if node is not tree:
                node.replace(rewrite(node))
    return tree.sql(dialect=dialect)


def _duckdb_type(name: str) -> str:
    text = str(name).strip().lower()
    if text.startswith(("decimal", "numeric")):
        return "DOUBLE"
    return _TYPES.get(text, str(name).upper())


def _select_of(statement: str) -> tuple[str, str]:
    """(table name, query) of ``CREATE OR REPLACE TEMP TABLE name AS query`` (DuckDB dialect)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(statement, read="duckdb")
    if not isinstance(tree, exp.Create):
        raise InputError(f"`statement` must be CREATE ... TABLE name AS query; got {statement[:60]!r}.")
    return tree.this.name, tree.expression.sql(dialect="duckdb")


def update_as_select(statement: str, columns: Any) -> tuple[str, str]:
    """(table name, query) giving the table that ``UPDATE table SET c = v FROM source AS d WHERE w``
    (DuckDB dialect) leaves, for an engine that cannot update (Spark's temp views): every row, with
    c = v where a row of ``source`` meets ``w``. As for UPDATE ... FROM itself, at most one row of
    ``source`` may meet each row. ``columns(name)`` lists the table's columns."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(statement, read="duckdb")
    if not isinstance(tree, exp.Update) or tree.args.get("from_") is None or tree.args.get("where") is None:
        raise InputError(f"`statement` must be UPDATE name SET ... FROM source WHERE ...; got {statement[:60]!r}.")
    table, source = tree.this.name, tree.args["from_"].this
    alias = source.alias_or_name
    sets = {eq.this.name: eq.expression.sql(dialect="duckdb") for eq in tree.expressions}
    listed = ", ".join(f"CASE WHEN {alias}._updated THEN {sets[c]} ELSE {table}.{c} END AS {c}" if c in sets
                       else f"{table}.{c}" for c in columns(table))
    return table, (f"SELECT {listed} FROM {table} LEFT JOIN (SELECT *, true AS _updated FROM {source.name}) AS {alias} "
                   f"ON {tree.args['where'].this.sql(dialect='duckdb')}")


_SIZE = re.compile(r"\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "bytes": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
               "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_bytes(size: str) -> int:
    """The bytes of a memory size as DuckDB reads it ("4GB" = 4 * 1000^3, "4GiB" = 4 * 1024^3,
    "500MB", "1.5 GB"; a number needs its unit).

    >>> size_bytes("4GB"), size_bytes("500 MiB")
    (4000000000, 524288000)
    """
    found = _SIZE.fullmatch(str(size))
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _SIZE_UNITS:
        raise InputError(f"`memory_limit` must be a size with its unit, such as '4GB', '500MB' or '4GiB'; got {size!r}.")
    return int(float(found.group(1)) * _SIZE_UNITS[unit])


class DuckDBEngine:
    """DuckDB in process: Parquet files read in place, spilling beyond ``memory_limit``."""

    dialect = "duckdb"

    def __init__(self, memory_limit: str | None = None, threads: int | None = None,
                 temp_directory: Any = None) -> None:
        import duckdb

        self.con = duckdb.connect(config={"preserve_insertion_order": False})
        # no progress bar on the caller's terminal (DuckDB draws one for any statement over 2 s:
        # at 10M procedures, most of them). In a notebook without ipywidgets DuckDB refuses any
        # change of the setting, and draws no bar there either.
        try:
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error:
            pass
        # timestamps with a time zone (Parquet's instants) are read as UTC, as load_records reads
        # them, whatever the machine's zone
        self.con.execute("SET TimeZone = 'UTC'")
        # DuckDB 2.0 trusts a Parquet column's min/max, which leave NaN out, and so folds
        # "x = NaN" and isnan(x) to false on a file written with NaN cells (pyarrow's, Spark's):
        # NaN would then be read as a score. Without statistics propagation NaN is NaN.
        self.con.execute("SET disabled_optimizers = 'statistics_propagation'")
        if memory_limit is not None:
            self.con.execute(f"SET memory_limit = {literal(str(memory_limit))}")
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
                raise InputError(f"`threads` must be a positive whole number; got {threads!r}.")
            self.con.execute(f"SET threads = {threads}")
        spill = os.fspath(temp_directory) if temp_directory is not None else os.path.join(
            tempfile.gettempdir(), "outcomes-duckdb")
        self.con.execute(f"SET temp_directory = {literal(spill)}")
        # trim(x, characters) is slow, so it runs only on values that start or end with whitespace
        space = literal(WHITESPACE)
        self.con.execute(f"CREATE MACRO ws_trim(x) AS CASE WHEN contains({space}, left(x, 1)) OR "
                         f"contains({space}, right(x, 1)) THEN trim(x, {space}) ELSE x END")

    def create(self, statement: str) -> None:
        self.con.execute(statement)

    def update(self, statement: str) -> None:
        self.con.execute(statement)

    def view(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")

    def arrow(self, query: str) -> pa.Table:
        table = self.con.sql(query).arrow()
        return table.read_all() if hasattr(table, "read_all") else table

    def rows(self, query: str) -> list[tuple]:
        return self.con.execute(query).fetchall()

    def register(self, name: str, table: pa.Table, types: dict[str, str]) -> None:
        self.con.register(f"{name}_frame", table)
        casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {casts} FROM {name}_frame")
        self.con.unregister(f"{name}_frame")

    def columns(self, name: str) -> list[tuple[str, str]]:
        return [(str(r[0]), str(r[1])) for r in self.con.execute(f"DESCRIBE SELECT * FROM {name}").fetchall()]

    def drop(self, name: str) -> None:
        """Drop a table no longer read (its memory, or its pages spilled to disk, freed)."""
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def read_parquet(self, view: str, files: list[str], file_bits: int) -> None:
        """The files as they are, with _order (file order) and _row (the row a spreadsheet shows).

        One scan per file with its offset as a constant: finding each row's file by its name
        (``filename = true``, ``list_position``) cost a string comparison per row. Columns are
        matched by name, so files may list them in different orders.
        """
        parts = [f"SELECT * EXCLUDE (file_row_number), {k * 2 ** file_bits} + file_row_number AS _order, "
                 f"file_row_number + 2 AS _row FROM read_parquet({literal(f)}, file_row_number = true)"
                 for k, f in enumerate(files)]
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {' UNION ALL BY NAME '.join(parts)}")

    def close(self) -> None:
        self.con.close()


def start_spark(config: dict[str, str] | None = None) -> Any:
    """A local SparkSession for one machine: two cores, few shuffle partitions, no web UI.

    Parameters
    ----------
    config : dict, optional
        Further Spark settings, applied last (they win over the defaults here), e.g. a larger
        ``spark.driver.memory``, or the small-data settings of the tests.

    Returns
    -------
    pyspark.sql.SparkSession
        The session (``getOrCreate``: an active one is reused, and JVM settings then keep the
        values it was started with).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("`engine` 'spark' needs pyspark: pip install 'outcomes[spark]' (and Java 17).") from None
    settings = {
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4", "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # no broadcast joins chosen by size estimates: with a 2 GB driver, broadcasting the
        # procedures' keys of a 1M registry ran out of memory; the tables of codes, which are
        # small by construction, are broadcast by a hint (SparkEngine.register)
        "spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.adaptive.autoBroadcastJoinThreshold": "-1",
        "spark.driver.memory": "2g",
    }
    if config is not None:
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise InputError(f"`config` must be a dict of Spark settings; got {config!r}.")
        settings.update({k: str(v) for k, v in config.items()})
    builder = SparkSession.builder.master("local[2]").appName("outcomes")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# Session settings while the engine evaluates (the caller's are put back on close).
_SPARK_SESSION = {"spark.sql.session.timeZone": "UTC", "spark.sql.constraintPropagation.enabled": "false"}


class SparkEngine:
    """Apache Spark through a SparkSession: each table a checkpointed DataFrame behind a temp view."""

    dialect = "spark"

    def __init__(self, session: Any = None) -> None:
        self.owned = session is None
        self.spark = start_spark() if session is None else session
        if not hasattr(self.spark, "sql") or not hasattr(self.spark, "createDataFrame"):
            raise InputError(f"`connection` must be a pyspark SparkSession; got {type(session).__name__}.")
        self.frames: dict[str, Any] = {}
        self.views: set[str] = set()
        # while evaluating, timestamps with a time zone are read as UTC (as load_records reads
        # them) in a session of any zone, and the optimizer's constraint propagation is off: on
        # the rules' wide CASE projections it spent minutes and the driver's heap canonicalising
        # OR chains (getAllValidConstraints); the caller's settings are put back by close()
        self.saved = {key: self.spark.conf.get(key) for key in _SPARK_SESSION}
        for key, value in _SPARK_SESSION.items():
            self.spark.conf.set(key, value)

    def _keep(self, name: str, frame: Any) -> None:
        """Materialise a table now and cut its lineage.

        A lazily persisted DataFrame keeps its whole logical plan: every later statement that
        reads it is analysed with the plans of all the tables before it inlined (and each common
        table expression copied once per reference), which on ``omop.sql`` grew past a 2 GB
        driver heap. ``localCheckpoint`` computes the rows once (kept by the executors, spilling
        to their disks) and gives a DataFrame whose plan is a scan of them.
        """
        old = self.frames.pop(name, None)
        frame = frame.localCheckpoint(eager=True)
        self.frames[name] = frame
        self._view(name, frame)
        if old is not None:
            old.unpersist()

    def create(self, statement: str) -> None:
        name, query = _select_of(statement)
        self._keep(name, self.spark.sql(transpile(query, "spark")))

    def update(self, statement: str) -> None:
        """An UPDATE ... FROM, as the table re-made with the rows it changes (temp views cannot be updated)."""
        name, query = update_as_select(statement, lambda table: [c for c, _ in self.columns(table)])
        self._keep(name, self.spark.sql(transpile(query, "spark")))

    def _view(self, name: str, frame: Any) -> None:
        frame.createOrReplaceTempView(name)
        self.views.add(name)

    def view(self, name: str, query: str) -> None:
        self._view(name, self.spark.sql(transpile(query, "spark")))

    def arrow(self, query: str) -> pa.Table:
        return self.spark.sql(transpile(query, "spark")).toArrow()

    def rows(self, query: str) -> list[tuple]:
        return [tuple(r) for r in self.spark.sql(transpile(query, "spark")).collect()]

    def register(self, name: str, table: pa.Table, types: dict[str, str]) -> None:
        table = pa.table({c: (table.column(c).cast(pa.string()) if pa.types.is_null(table.column(c).type)
                              else table.column(c)) for c in table.column_names})
        if table.num_rows == 0:  # Spark cannot infer from no rows: an explicit schema
            from pyspark.sql.types import StringType, StructField, StructType
            frame = self.spark.createDataFrame([], StructType([StructField(c, StringType()) for c in types]))
        else:
            frame = self.spark.createDataFrame(table)
        self._view(f"{name}_frame", frame)
        casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        # a table of codes is small (distinct values): joined by broadcast, without a shuffle of
        # the large side (broadcasts are otherwise off, see start_spark); its plan is a scan of
        # the rows sent, so it needs no checkpoint
        self._view(name, self.spark.sql(transpile(f"SELECT {casts} FROM {name}_frame", "spark")).hint("broadcast"))

    def columns(self, name: str) -> list[tuple[str, str]]:
        return [(f.name, _duckdb_type(f.dataType.simpleString())) for f in self.spark.table(name).schema.fields]

    def drop(self, name: str) -> None:
        """Drop a table no longer read (its checkpointed rows unpersisted)."""
        frame = self.frames.pop(name, None)
        if frame is not None:
            frame.unpersist()
        if name in self.views:
            self.spark.catalog.dropTempView(name)
            self.views.discard(name)

    def read_parquet(self, view: str, files: list[str], file_bits: int) -> None:
        from pyspark.sql import functions as F

        parts = []
        for k, path in enumerate(files):
            frame = self.spark.read.parquet(path)
            row = F.col("_metadata.row_index")
            parts.append(frame.select("*", (F.lit(k * 2 ** file_bits) + row).alias("_order"),
                                      (row + 2).alias("_row")))
        whole = parts[0]
        for part in parts[1:]:
            whole = whole.unionByName(part)
        self._view(view, whole)

    def table(self, view: str, table: str) -> None:
        """A Spark table (catalog name) as the source: row order is the table's scan order."""
        from pyspark.sql import functions as F

        frame = self.spark.table(table)
        order = F.monotonically_increasing_id()
        self._view(view, frame.select("*", order.alias("_order"), (order + 2).alias("_row")))

    def close(self) -> None:
        for frame in self.frames.values():
            frame.unpersist()
        for name in self.views:
            self.spark.catalog.dropTempView(name)
        self.frames.clear()
        self.views.clear()
        for key, value in self.saved.items():
            self.spark.conf.set(key, value)
        if self.owned:
            self.spark.stop()


class PostgresEngine:
    """PostgreSQL through psycopg 3: every table is a temporary table of the session."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise InputError("Evaluating inside PostgreSQL needs psycopg 3: pip install 'outcomes[omop]'.") from None
        import re

        self.label = re.sub(r"//([^:/@]+)(:[^@]*)?@", r"//\1@", url)
        try:
            self.con = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise InputError(f"`omop` must reach a PostgreSQL database; connecting to {self.label} "
                             f"failed: {str(exc).strip()}.") from None
        self.con.execute("SET TIME ZONE 'UTC'")  # timestamps with a time zone read as UTC

    def create(self, statement: str) -> None:
        name, query = _select_of(statement)
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(f"CREATE TEMP TABLE {name} AS {transpile(query, 'postgres')}")
        self.con.execute(f"ANALYZE {name}")

    def update(self, statement: str) -> None:
        self.con.execute(transpile(statement, "postgres"))

    def view(self, name: str, query: str) -> None:
        self.con.execute(f"DROP VIEW IF EXISTS {name}")
        self.con.execute(f"CREATE TEMP VIEW {name} AS {transpile(query, 'postgres')}")

    def rows(self, query: str) -> list[tuple]:
        return self.con.execute(transpile(query, "postgres")).fetchall()

    def arrow(self, query: str) -> pa.Table:
        cur = self.con.execute(transpile(query, "postgres"))
        names = [d.name for d in cur.description]
        data = cur.fetchall()
        columns = {}
        for k, name in enumerate(names):
            values = [r[k] for r in data]
            if any(isinstance(v, _dt.date) and not isinstance(v, _dt.datetime) for v in values):
                values = [None if v is None else _dt.datetime(v.year, v.month, v.day) for v in values]
            values = [float(v) if v is not None and type(v).__name__ == "Decimal" else v for v in values]
            columns[name] = pa.array(values) if any(v is not None for v in values) else pa.nulls(len(values))
        return pa.table(columns) if names else pa.table({})

    def register(self, name: str, table: pa.Table, types: dict[str, str]) -> None:
        from sqlglot import exp

        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        cols = ", ".join(f"{c} {exp.DataType.build(t, dialect='duckdb').sql('postgres')}" for c, t in types.items())
        self.con.execute(f"CREATE TEMP TABLE {name} ({cols})")
        if table.num_rows:
            with self.con.cursor() as cur, cur.copy(f"COPY {name} ({', '.join(types)}) FROM STDIN") as copy:
                for row in zip(*(table.column(c).to_pylist() for c in types)):
                    copy.write_row([None if isinstance(v, float) and np.isnan(v) else v for v in row])

    def columns(self, name: str) -> list[tuple[str, str]]:
        cur = self.con.execute(f"SELECT * FROM {name} LIMIT 0")
        types = {r[0]: r[1] for r in self.con.execute(
            "SELECT oid, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%s)",
            [[d.type_code for d in cur.description]]).fetchall()}
        return [(d.name, _duckdb_type(types.get(d.type_code, "VARCHAR"))) for d in cur.description]

    def drop(self, name: str) -> None:
        """Drop a table no longer read."""
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        self.con.close()
