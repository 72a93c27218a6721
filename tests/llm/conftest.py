"""Fixtures for the LLM tests: the fake vendor servers answering as Headway's prompts expect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer, FakeLLMServer, FakeOpenAIServer


@pytest.fixture(params=["anthropic", "openai"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    """The fake Anthropic, then the fake OpenAI server, each answering with Headway's offline logic."""
    fake: FakeLLMServer = (
        FakeAnthropicServer(responder=headway_responder)
        if request.param == "anthropic"
        else FakeOpenAIServer(responder=headway_responder)
    )
    with fake:
        yield fake
