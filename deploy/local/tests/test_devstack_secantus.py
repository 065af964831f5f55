from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient

from dsr_devstack import SecantusDB, free_port
from dsr_devstack._proc import pid_alive, port_free

# Starts its own SecantusDB: no fixture says so.
pytestmark = pytest.mark.infra


async def test_transaction_commit_and_restart_keeps_data(tmp_path, cleanup):
    db = SecantusDB(tmp_path / "db", free_port())
    cleanup(db)
    assert db.start().kind == "cold"

    client = AsyncMongoClient(db.uri)
    try:
        register = client.dsr
        async with client.start_session() as session:
            async with await session.start_transaction():
                people, obligations = register.people, register.obligations
                await people.insert_one({"_id": "p1", "rating": "amber"}, session=session)
                await obligations.insert_one({"person": "p1", "due": "7d"}, session=session)
        assert await register.people.count_documents({}) == 1

        # An aborted transaction leaves neither collection changed.
        async with client.start_session() as session:
            async with await session.start_transaction():
                await register.people.insert_one({"_id": "p2"}, session=session)
                await register.obligations.insert_one({"person": "p2"}, session=session)
                await session.abort_transaction()
        assert await register.people.count_documents({}) == 1
        assert await register.obligations.count_documents({}) == 1
    finally:
        await client.close()

    pid = db.pid
    db.stop()
    assert not pid_alive(pid) and port_free(db.port)

    assert db.start().kind == "warm"
    client = AsyncMongoClient(db.uri)
    try:
        assert await client.dsr.people.find_one({"_id": "p1"}) == {"_id": "p1", "rating": "amber"}
        assert await client.dsr.obligations.count_documents({"person": "p1"}) == 1
    finally:
        await client.close()
    db.stop()
    assert port_free(db.port)
