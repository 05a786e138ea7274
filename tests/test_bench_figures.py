"""The bench's own figures: SQL statements and CPU time per client message, counted in
eadesk's process alone (`python -m bench delivery`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from bench.counters import SqlCensus, census_between

ROOT = Path(__file__).resolve().parent.parent


async def test_every_statement_and_transaction_is_counted_once(db: str) -> None:
    connection = Tortoise.get_connection("default")
    census = SqlCensus()
    census.install()
    try:
        before = census.snapshot()
        await connection.execute_query("SELECT 1")
        await connection.execute_query_dict("SELECT 2")
        async with in_transaction() as outer:
            await outer.execute_query("SELECT 3")
            async with in_transaction() as inner:  # a savepoint
                await inner.execute_query("SELECT 4")
        after = census.snapshot()
    finally:
        census.uninstall()
    await connection.execute_query("SELECT 5")  # not counted any more

    assert after["statements"] - before["statements"] == 4
    assert after["transactions"] - before["transactions"] == 2
    assert census_between(before["by_text"], after["by_text"]) == {"SELECT ?": 4}
    assert census.statements == after["statements"]


def figure(table: str, row: str) -> float:
    found = re.search(rf"^{re.escape(row)}\s+([\d.]+)\s*$", table, re.MULTILINE)
    assert found, f"no figure for {row!r} in:\n{table}"
    return float(found.group(1))


def test_delivery_prints_sql_statements_and_cpu_per_client_message() -> None:
    command = [sys.executable, "-m", "bench", "delivery", "--no-limits", "--relay-bots", "0"]
    command += ["--clients", "2", "--messages", "2", "--duration", "0", "--deadline", "120"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]
    table = run.stdout
    assert figure(table, "client messages accepted") == 4
    assert figure(table, "visible to operators") == 4
    # Storing a client message and posting it takes statements and CPU time in eadesk's
    # process; the emulator's and the load's work is not in these figures.
    assert figure(table, "SQL statements per client message [3]") > 1
    assert figure(table, "  transactions per client message") > 0
    assert figure(table, "CPU ms per client message [3]") > 0
