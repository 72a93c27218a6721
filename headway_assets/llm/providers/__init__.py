"""LLM providers: one module per vendor (Anthropic, OpenAI, the offline model) behind `base.LlmProvider`."""
