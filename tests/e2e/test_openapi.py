"""Issue 10: the OpenAPI document tells the truth — a schema-based fuzzer (schemathesis, every
check) against a real `cleanexit serve` finds no 5xx, no undocumented status, header or body,
and no schema-valid request refused as malformed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"CLEANEXIT_INTROSPECTION_CLIENTS": "rs:" + "s3cr3t-" * 6}
    with start_server(Path(tmp_path_factory.mktemp("openapi")), env=env) as server:
        yield server


# A body over the cap is refused before it is read: 413 is a rejection too.
CONFIG = {
    "checks": {
        "negative_data_rejection": {
            "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429]
        }
    }
}


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> schemathesis.BaseSchema:
    config = SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_url(server.url + "/openapi.json", config=config)


@schemathesis.check
def valid_data_is_not_called_malformed(ctx: object, response: object, case: Case) -> bool | None:
    """Schema-valid input may name an unknown token or user (400 invalid_grant, 401), never be
    refused as malformed (400 invalid_request): the schema's limits are the server's."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code  # type: ignore[attr-defined]
    if status == 400 and response.json().get("error") == "invalid_request":  # type: ignore[attr-defined]
        raise Failure(
            operation=case.operation.label,
            title="Schema-valid request refused as malformed",
            message=response.text,  # type: ignore[attr-defined]
        )
    return None


def test_the_document_tells_the_truth(api: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10  # every /auth operation and the service's own routes
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation, mode in ((op, mode) for op in operations for mode in modes):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Case) -> None:
            # positive_data_acceptance counts any 400 as a refusal; RFC 6749 answers an unknown
            # refresh token with 400 invalid_grant, so the check above replaces it.
            case.call_and_validate(
                excluded_checks=[positive_data_acceptance],
                additional_checks=[valid_data_is_not_called_malformed],
            )

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters)
