"""Local fakes of the services Headway talks to (LLM providers, an OTLP/Langfuse receiver).

They are real HTTP servers on 127.0.0.1 that the real client libraries reach through
`base_url` / `endpoint`, for tests and benchmarks that must not touch the network.
"""

from .llm_servers import (
    DEFAULT_ANTHROPIC_KEY,
    DEFAULT_OPENAI_KEY,
    FakeAnthropicServer,
    FakeLLMServer,
    FakeOpenAIServer,
    Fault,
    FaultKind,
    FaultRule,
    LLMRequest,
    RecordedRequest,
    Responder,
    ServerStats,
    TokenUsage,
    default_responder,
    estimate_tokens,
)
from .otlp_receiver import OTLPReceiver, ReceivedExport, ReceivedSpan, basic_auth_header

__all__ = [
    "DEFAULT_ANTHROPIC_KEY",
    "DEFAULT_OPENAI_KEY",
    "FakeAnthropicServer",
    "FakeLLMServer",
    "FakeOpenAIServer",
    "Fault",
    "FaultKind",
    "FaultRule",
    "LLMRequest",
    "OTLPReceiver",
    "ReceivedExport",
    "ReceivedSpan",
    "RecordedRequest",
    "Responder",
    "ServerStats",
    "TokenUsage",
    "basic_auth_header",
    "default_responder",
    "estimate_tokens",
]
