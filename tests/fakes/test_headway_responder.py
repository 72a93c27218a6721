"""The fake servers' Headway responder answers every Headway request as the offline provider would,
over both wire formats (Anthropic tool use, OpenAI structured output), batched requests included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from headway_assets.core.taxonomy import TAXONOMY_DIR, load_taxonomy_file
from headway_assets.llm.providers.anthropic_provider import AnthropicProvider
from headway_assets.llm.providers.base import LlmProvider, LlmRequest
from headway_assets.llm.providers.openai_provider import OpenAIProvider
from headway_assets.llm.registry import OFFLINE_MODEL
from headway_assets.llm.tasks import (
    InsightInput,
    MatchCandidate,
    MatchInput,
    Tier1Input,
    Tier2Input,
    insight_request,
    match_request,
    tier1_request,
    tier2_request,
)
from headway_assets.offline import OfflineProvider
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer, FakeLLMServer, FakeOpenAIServer

ACME = load_taxonomy_file(TAXONOMY_DIR / "acme.yaml").listing()
TEXTS = [
    "Could you add SSO with Okta? Our IT team will not approve the renewal without it.",
    "The CSV export fails with a 500 error whenever the report has more than 10k rows.",
    "Thanks, see you at the standup tomorrow!",
    "Please let us export dashboards to PDF & share them with the board <soon>.",
]
SSO = MatchCandidate("req-sso", "Support SSO with Okta", "Log in through Okta.", "security", "security/sso", ("Okta",))
PDF = MatchCandidate("req-pdf", "Export dashboards to PDF", "A PDF of a dashboard.", "reporting")
REQUESTS: dict[str, LlmRequest] = {
    "tier1": tier1_request([Tier1Input(str(i), text) for i, text in enumerate(TEXTS)]),
    "tier2": tier2_request(
        [(str(i), Tier2Input(text, "gmail", "Orbit", "Re: export", ACME)) for i, text in enumerate(TEXTS)]
    ),
    "insight": insight_request(
        [(str(i), InsightInput(text, "slack", "Orbit", ("Okta SSO", "PDF export"))) for i, text in enumerate(TEXTS)]
    ),
    "match": match_request(
        [
            ("0", MatchInput("Okta single sign-on", "We need Okta SSO.", "security/sso", (SSO, PDF), "security")),
            ("1", MatchInput("Dashboards as PDF", "PDF export please.", None, (PDF,), quote="PDF!", kind="pain_point")),
            ("2", MatchInput("Dark mode", "A dark theme.", None, (SSO, PDF))),
        ]
    ),
}


def _provider(server: FakeLLMServer) -> LlmProvider:
    kwargs: dict[str, Any] = server.client_kwargs()
    provider_class = AnthropicProvider if isinstance(server, FakeAnthropicServer) else OpenAIProvider
    return provider_class(api_key=kwargs["api_key"], base_url=kwargs["base_url"], timeout_seconds=5.0, max_retries=0)


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
@pytest.mark.parametrize("task", sorted(REQUESTS))
def test_the_responder_answers_as_the_offline_provider(wire: str, task: str) -> None:
    request = REQUESTS[task]

    async def ask(provider: LlmProvider, model: str = "model") -> BaseModel:
        try:
            return (await provider.generate(request, model)).parsed
        finally:
            await provider.aclose()

    server: FakeLLMServer = (
        FakeAnthropicServer(responder=headway_responder)
        if wire == "anthropic"
        else FakeOpenAIServer(responder=headway_responder)
    )
    with server:
        remote = asyncio.run(ask(_provider(server)))
    # The offline provider answers tier-1 with the model it is named (here its lexicon, as the responder).
    offline = asyncio.run(ask(OfflineProvider(), OFFLINE_MODEL))
    assert type(remote) is request.output_model
    assert remote == offline
