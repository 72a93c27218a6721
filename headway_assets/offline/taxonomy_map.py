"""Placing an ask in the organisation's taxonomy without a language model.

Tier-2 receives the taxonomy as (path, name) pairs only, which is the general case: a real
organisation's taxonomy may have nothing but names. Cues for each node therefore come from:

1. its name and path words ("Exports (PDF, CSV)" -> export, pdf, csv; "scheduled-reports");
2. a small table of generic product vocabulary per common product area, added when a node's
   name or path names that area ("Single sign-on" also matches "SAML", "Okta", "password");
3. when a taxonomy file in `config/taxonomies/` has the same node (same path and name), its
   keywords, as a bonus.

A sentence is scored against every sub-theme (its own cues plus half of its theme's); the
best-scoring sub-theme wins, a cue shared by many nodes counting less than a distinctive one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from headway_assets.offline.vocab import content_terms, term_weights

LOGGER = logging.getLogger(__name__)

NAME_CUE_WEIGHT: Final = 1.2  # the words an organisation chose for a node say most
KEYWORD_CUE_WEIGHT: Final = 1.0
AREA_CUE_WEIGHT: Final = 0.6
THEME_SHARE: Final = 0.5
MIN_SCORE: Final = 0.5

# Generic product areas: (stems that identify the area in a node's name or path, vocabulary of
# the area). Written from general SaaS knowledge; a deployment's own keywords add to these.
_AREAS: Final[tuple[tuple[str, str], ...]] = (
    ("sso identity authentication login okta saml", "sso login okta azuread googleworkspace onelogin idp mfa"),
    ("provisioning scim", "scim provisioning deprovision onboarding offboarding directory"),
    ("permission access rowlevel security", "permission access restrict rowlevel viewer editor visibility"),
    ("audit compliance", "auditlog audit compliance gdpr soc hipaa retention"),
    ("export", "export pdf csv"),
    ("report", "report schedule digest email"),
    ("dashboard visualisation", "dashboard visualise"),
    ("embed whitelabel", "embed iframe whitelabel branding"),
    ("connector warehouse integrations", "integrate api snowflake bigquery redshift databricks postgres salesforce"),
    ("sync freshness", "sync refresh stale timeout pipeline"),
    ("alert anomaly", "alert anomaly threshold spike"),
    ("ai assistant naturallanguage", "ai assistant naturallanguage chatgpt copilot llm"),
    ("filter", "filter date range"),
    ("calendar", "calendar date"),
    ("darkmode look design ui appearance", "darkmode color font layout ui design"),
    ("slow", "slow load loading"),
    ("share collaboration versionhistory", "share link comment versionhistory revert"),
    ("price seat licence plan billing", "price seat licence license plan contract"),
    ("reminder sms notification", "reminder sms email alert"),
    ("language localisation translation", "language spanish french german portuguese"),
    ("mobile", "mobile ios android"),
    ("search", "search"),
    ("import", "import upload"),
    ("api webhook", "api webhook endpoint"),
    ("calendar-sync outlook", "outlook ical duplicate"),
    ("telehealth video", "zoom video telehealth virtual"),
    ("ehr", "ehr emr epic cerner athena hl7 fhir"),
    ("insurance eligibility", "insurance eligibility payer coverage"),
    ("recurring", "recurring series repeat"),
    ("waitlist cancellation", "waitlist cancellation"),
    ("bulk", "bulk"),
    ("dst timezone time-and-locale", "dst timezone shift"),
    ("prediction analytics", "prediction risk forecast"),
    ("portal self-service", "portal login self"),
    ("conflict", "doublebook conflict overlap"),
)


@dataclass(frozen=True, slots=True)
class NodeCues:
    """One taxonomy node and the weighted stems that point to it."""

    path: str
    name: str
    parent: str | None
    cues: dict[str, float]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an ask sits in the taxonomy (paths as given), and how strongly it was matched."""

    theme: str | None
    sub_theme: str | None
    score: float


class TaxonomyMapper:
    """Scores text against a taxonomy given as (path, name) pairs."""

    def __init__(self, taxonomy: tuple[tuple[str, str], ...], keywords: dict[str, tuple[str, ...]] | None = None):
        """Build cues for every node; `keywords` maps a node path to extra keywords (optional)."""
        keywords = keywords or {}
        nodes: list[NodeCues] = []
        for path, name in taxonomy:
            parent = path.rsplit("/", 1)[0] if "/" in path else None
            cues: dict[str, float] = {}
            own_text = f"{name} {path.rsplit('/', 1)[-1].replace('-', ' ')}"
            for stem_, weight in term_weights(own_text).items():
                cues[stem_] = max(cues.get(stem_, 0.0), NAME_CUE_WEIGHT * min(1.0, weight / 0.7))
            for keyword in keywords.get(path, ()):
                for stem_ in term_weights(keyword):
                    cues[stem_] = max(cues.get(stem_, 0.0), KEYWORD_CUE_WEIGHT)
            own = set(term_weights(own_text)) | {path.rsplit("/", 1)[-1]}
            for triggers, vocabulary in _AREAS:
                if own & _area_stems(triggers, keep_hyphenated=True):
                    for stem_ in _area_stems(vocabulary, keep_hyphenated=False):
                        cues.setdefault(stem_, AREA_CUE_WEIGHT)
            nodes.append(NodeCues(path=path, name=name, parent=parent, cues=cues))
        self.nodes: tuple[NodeCues, ...] = tuple(nodes)
        self._by_path = {node.path: node for node in nodes}
        # A stem that points to many sub-themes says little about which one is meant.
        spread: dict[str, int] = {}
        for node in nodes:
            for stem_ in node.cues:
                spread[stem_] = spread.get(stem_, 0) + 1
        self._spread = spread
        self._sub_themes = tuple(n for n in nodes if n.parent is not None and n.parent in self._by_path)
        self._themes = tuple(n for n in nodes if n.parent is None)

    def _node_score(self, node: NodeCues, terms: dict[str, float]) -> float:
        score = 0.0
        for stem_, term_weight in terms.items():
            cue = node.cues.get(stem_)
            if cue:
                score += cue * min(term_weight, 1.2) / math.sqrt(self._spread.get(stem_, 1))
        return score

    def scores(self, text: str) -> dict[str, float]:
        """Score of every sub-theme (and of themes without sub-themes) for `text`."""
        terms = term_weights(text)
        result: dict[str, float] = {}
        theme_scores = {theme.path: self._node_score(theme, terms) for theme in self._themes}
        themes_with_children = {node.parent for node in self._sub_themes}
        for node in self._sub_themes:
            result[node.path] = self._node_score(node, terms) + THEME_SHARE * theme_scores.get(node.parent or "", 0.0)
        for theme in self._themes:
            if theme.path not in themes_with_children:
                result[theme.path] = theme_scores[theme.path]
        return result

    def place(self, text: str, context: str = "") -> Placement:
        """The best (theme, sub-theme) for `text`; `context` (neighbouring text) counts half."""
        if not self.nodes:
            return Placement(None, None, 0.0)
        scores = self.scores(text)
        if context:
            for path, value in self.scores(context).items():
                scores[path] = scores.get(path, 0.0) + 0.5 * value
        best_path, best = None, 0.0
        for node in self.nodes:  # taxonomy order breaks ties
            value = scores.get(node.path, 0.0)
            if value > best + 1e-9:
                best_path, best = node.path, value
        if best_path is None or best < MIN_SCORE:
            return Placement(None, None, round(best, 3))
        node = self._by_path[best_path]
        if node.parent is None:
            return Placement(node.path, None, round(best, 3))
        return Placement(node.parent, node.path, round(best, 3))


@lru_cache(maxsize=256)
def _area_stems(words: str, keep_hyphenated: bool) -> frozenset[str]:
    """Stems of an area's words; a hyphenated trigger ("calendar-sync") only matches a path as a whole."""
    stems: set[str] = set()
    for word in words.split():
        if "-" in word:
            if keep_hyphenated:
                stems.add(word)
            continue
        stems.update(term.stem for term in content_terms(word))
    return frozenset(stems)


def _load_keyword_files(directory: Path) -> tuple[tuple[str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...]:
    """(file name, ((path, name, keywords), ...)) for every readable taxonomy file in `directory`."""
    from headway_assets.core.taxonomy import TaxonomyError, load_taxonomy_file

    loaded = []
    if not directory.is_dir():
        return ()
    for file in sorted(directory.glob("*.y*ml")):
        try:
            taxonomy = load_taxonomy_file(file)
        except TaxonomyError as error:
            # The taxonomy loader reports broken files where they are used; here they only
            # cost the offline provider some keywords, so say so and carry on.
            LOGGER.warning("offline tier-2 ignores taxonomy file %s: %s", file, error)
            continue
        loaded.append((file.name, tuple((n.path, n.name, n.keywords) for n in taxonomy.nodes)))
    return tuple(loaded)


@lru_cache(maxsize=4)
def _keyword_files(directory: str) -> tuple[tuple[str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...]:
    return _load_keyword_files(Path(directory))


def keywords_for(taxonomy: tuple[tuple[str, str], ...], directory: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Keywords of the nodes of `taxonomy` found (same path and name) in the best-matching file."""
    if directory is None:
        from headway_assets.core.taxonomy import TAXONOMY_DIR

        directory = TAXONOMY_DIR
    wanted = set(taxonomy)
    best: dict[str, tuple[str, ...]] = {}
    best_overlap = 0
    for _name, nodes in _keyword_files(str(directory)):
        overlap = sum(1 for path, name, _ in nodes if (path, name) in wanted)
        if overlap > best_overlap:
            best_overlap = overlap
            best = {path: keywords for path, name, keywords in nodes if (path, name) in wanted and keywords}
    return best


@lru_cache(maxsize=64)
def mapper_for(taxonomy: tuple[tuple[str, str], ...], use_keyword_files: bool = True) -> TaxonomyMapper:
    """A cached mapper for one taxonomy listing (plus file keywords unless disabled)."""
    keywords = keywords_for(taxonomy) if use_keyword_files else {}
    return TaxonomyMapper(taxonomy, keywords)
