from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cleanexit.server.stores import MemoryStore, Store

from .contract import StoreContract

pytestmark = pytest.mark.anyio


class TestMemoryStore(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        store = MemoryStore()
        await store.open()
        yield store
        await store.close()
