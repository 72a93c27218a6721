"""The offline vocabulary computes a text's terms sentence by sentence: exactly the whole text's."""

from __future__ import annotations

import re

import pytest

from headway_assets.offline import vocab

SENTENCES = (
    "Alerts on CSV failures per workspace.",
    "It matters for our rollout this quarter.",
    "Lots of, Okta users cannot log in!",
    "All of them want Single Sign-On via Azure AD?",
    "A lot of Okta logins time out.",
    "Exportar informes a PDF por favor.",
    "Dark mode for the mobile app",
    "Multi-select rows and bulk edit them.",
    "The SSO page (Okta) shows an error.",
    "GDPR export per workspace.",
)


def _whole(text: str) -> tuple[vocab.Term, ...]:
    """The terms of `text` computed over the whole text at once (no sentence split)."""
    return vocab._terms(vocab.rewrite_phrases(text))


@pytest.mark.parametrize("joiner", [" ", "  ", "\n"])
def test_terms_by_sentence_equal_the_whole_texts(joiner: str) -> None:
    texts = [
        joiner.join(SENTENCES[i % len(SENTENCES)] for i in range(start, start + length))
        for start in range(len(SENTENCES))
        for length in (1, 2, 3, 5)
    ]
    # Truncated descriptions (a candidate shows 300 characters of one) end mid-sentence.
    texts += [text[:cut] + " " + SENTENCES[1] for text in texts[:8] for cut in (7, 20, 41)]
    for text in texts:
        assert vocab.content_terms(text) == _whole(text), text
        assert vocab.english_text(text) == vocab._TOKEN.sub(lambda m: vocab._english_word(m.group(0)), text)


def test_no_phrase_can_span_a_sentence_break() -> None:
    """The sentence split is exact because a phrase is letters, spaces, hyphens and groups only:
    it can never match sentence punctuation (no wildcard, class escape or negated class)."""
    for pattern, _replacement in vocab._PHRASES:
        assert not re.search(r"\.|\\|\[\^", pattern), pattern
        assert not re.search(pattern, ". ", re.IGNORECASE)
