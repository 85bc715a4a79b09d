"""The start page and the first save of a case (issue 23, points 2 to 4), against a real ``evidence-kit serve``.

"The usual one for this reason" resolves for every reason; one answer names every problem of the facts; an
upload refuses an empty, a fake and a damaged file with a plain reason and keeps no second copy of a file the
case already has. The browser test drives the start page in Chromium: the file picker, the kind choice, a
rejection shown with its reason, and Create disabled while it runs.
"""
from __future__ import annotations

import copy
import tomllib
from typing import Any, Iterator

import pytest

from evidence_kit import api
from evidence_kit.model.reasons import REASON_RULES

from .test_web_api import FACTS, WebServer, new_case


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"))
    yield running
    running.client.close()
    running.stop()


def facts_with(**dispute: Any) -> dict[str, Any]:
    facts = copy.deepcopy(FACTS)
    facts["dispute"] = {**facts["dispute"], **dispute}
    return facts


# --- point 3: the usual resolution --------------------------------------------------------------------------

@pytest.mark.parametrize("reason", list(REASON_RULES))
def test_the_usual_resolution_is_accepted_for_every_reason(server: WebServer, reason: str) -> None:
    """The form sends "" for "The usual one for this reason": case.toml gets that resolution written out."""
    usual = REASON_RULES[reason].default_resolution or "refund_only"
    facts = facts_with(reason=reason, resolution="", amount="")
    response = server.client.post("/api/cases", json=facts)
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    written = tomllib.loads((server.workspace / case_id / "case.toml").read_text(encoding="utf-8"))
    assert written["dispute"]["resolution"] == usual
    assert api.load_case(server.workspace / case_id).dispute.resolution == usual  # the CLI reads the same
    # Saved again from the case page with the same choice: still accepted, still written out.
    again = server.client.put(f"/api/cases/{case_id}", json=facts_with(reason=reason, resolution=""))
    assert again.status_code == 200, again.text
    written = tomllib.loads((server.workspace / case_id / "case.toml").read_text(encoding="utf-8"))
    assert written["dispute"]["resolution"] == usual
    # A chosen resolution is kept as chosen.
    chosen = server.client.put(f"/api/cases/{case_id}", json=facts_with(reason=reason, resolution="return_and_refund"))
    assert chosen.status_code == 200, chosen.text
    assert server.client.get(f"/api/cases/{case_id}").json()["facts"]["dispute"]["resolution"] == "return_and_refund"


# --- point 4: every problem in one answer -------------------------------------------------------------------

def test_one_answer_names_every_problem_of_the_facts(server: WebServer) -> None:
    """A wrong price, a shipping day ahead of today, a dispute opened in the future and a fact for another reason:
    all four in the first answer (the future-date check used to wait until every other field was valid)."""
    facts = facts_with(reason="not_received", resolution="refund_only", amount="", opened="2099-01-05")
    facts["order"] = {**facts["order"], "price": "twenty", "shipped": "2099-01-02", "delivered": ""}
    facts["facts"] = {"defect": "cracked"}
    response = server.client.post("/api/cases", json=facts)
    assert response.status_code == 422, response.text
    fields = response.json()["fields"]
    assert {"order.price", "order.shipped", "dispute.opened", "facts.defect"} <= set(fields), fields
    assert "is in the future" in fields["order.shipped"][0] and "is in the future" in fields["dispute.opened"][0]
    assert not [p for p in server.workspace.iterdir() if p.name.startswith("order-")]  # nothing written
    # The case page's save answers the same way.
    case_id = new_case(server)
    again = server.client.put(f"/api/cases/{case_id}", json=facts)
    assert again.status_code == 422 and set(again.json()["fields"]) == set(fields)
