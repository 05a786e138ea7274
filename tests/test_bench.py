"""A fast smoke run of `python -m bench delivery`: limits off, 3 clients × 2 messages."""

from __future__ import annotations

from bench.delivery import ROW_NAMES, LoadSpec, render, run_delivery


async def test_delivery_smoke() -> None:
    spec = LoadSpec(clients=3, messages=2, duration=1.0, deadline=30.0, seed=7, limits=False)
    result = await run_delivery(spec)
    table = render([result])
    for name in ROW_NAMES:
        assert name in table, name
    assert "client messages per second" in table
    assert "SQL statements per client message" in table
    assert "CPU ms per client message" in table
    assert result.accepted == 6
    assert result.visible == 6
    assert result.lost == 0
    assert result.duplicated == 0
    assert result.misplaced == 0
    assert result.topics == 3
