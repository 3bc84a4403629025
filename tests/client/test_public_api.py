"""Every public name is exported, and every export exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import cleanexit.client

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(cleanexit.client.__path__, "cleanexit.client.")
    if not m.name.rsplit(".", 1)[-1].startswith("_")
)


@pytest.mark.parametrize("name", ["cleanexit.client", *MODULES])
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == name
    }
    assert public <= exported, public - exported


def test_package_reexports_the_essentials() -> None:
    for name in ("Client", "AsyncClient", "AuthStore", "StateFile", "LogoutResult"):
        assert name in cleanexit.client.__all__


def test_client_errors_join_the_one_tree() -> None:
    from cleanexit.client import ClientError
    from cleanexit.errors import CleanexitError

    assert issubclass(ClientError, CleanexitError)
    assert ClientError.error_code == "client_error"
