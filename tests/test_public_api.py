"""Every ``__all__`` is complete and true: the public surface is what it says."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cleanexit

OPTIONAL = {
    "cleanexit.server.stores.redis",
    "cleanexit.server.stores.redis_replica",
    "cleanexit.__main__",
}


def modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(cleanexit.__path__, "cleanexit.")]
    return sorted(n for n in names if n not in OPTIONAL and ".cli" not in n)


@pytest.mark.parametrize("name", modules())
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if name.rsplit(".", 1)[-1].startswith("_") and exported is None:
        return  # a private module may go without
    assert exported is not None, f"{name} has no __all__"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    defined = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == name
    }
    assert defined <= set(exported), (
        f"{name}: public but not exported: {sorted(defined - set(exported))}"
    )
