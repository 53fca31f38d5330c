"""Step 7: the most relevant files in the tenant's allowlisted Drive folders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile
from sales_agent_pipeline.domain.workflow import AssetChoice
from sales_agent_pipeline.ports.vendors import Drive

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "about",
        "for",
        "from",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "more",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "the",
        "to",
        "we",
        "what",
        "with",
        "would",
        "you",
        "your",
        "can",
        "could",
        "do",
        "does",
        "like",
        "want",
        "need",
        "looking",
        "interested",
        "info",
        "information",
        "hello",
        "hi",
        "thanks",
    ]
)
_FORMAT_BONUS = {"case study": 2.0, "case-study": 2.0, "one-pager": 1.0, "one pager": 1.0}


def keywords(*texts: str | None, limit: int = 6) -> list[str]:
    """Distinct meaningful words of the texts, in order of first appearance."""
    words: list[str] = []
    for text in texts:
        for word in re.findall(r"[a-z0-9][a-z0-9+-]{2,}", (text or "").lower()):
            if word not in _STOPWORDS and word not in words:
                words.append(word)
    return words[:limit]


def score(file: DriveFile, industry_terms: Sequence[str], interest_terms: Sequence[str]) -> float:
    """Relevance of a file to the lead, by what its name says."""
    name = file.name.lower()
    value = 3.0 * sum(term in name for term in industry_terms)
    value += 2.0 * sum(term in name for term in interest_terms)
    value += max((bonus for marker, bonus in _FORMAT_BONUS.items() if marker in name), default=0)
    return value


def rank_assets(lead: Lead, files: Sequence[DriveFile], limit: int = 3) -> AssetChoice:
    """Files with any relevance, best first; ties go to the most recently modified."""
    industry_terms = keywords(lead.industry)
    interest_terms = keywords(lead.interest, lead.job_title)
    oldest = datetime.min.replace(tzinfo=UTC)
    scored = [(score(f, industry_terms, interest_terms), f) for f in files]
    relevant = [pair for pair in scored if pair[0] > 0]
    relevant.sort(key=lambda pair: (-pair[0], -(pair[1].modified_time or oldest).timestamp()))
    return AssetChoice(ranked=tuple(file for _, file in relevant[:limit]))


def hunt_drive_assets(drive: Drive, lead: Lead, folder_ids: Sequence[str]) -> AssetChoice:
    """Search only the allowlisted folders (the connector never looks elsewhere), then rank."""
    if not folder_ids:
        return AssetChoice()
    terms = keywords(lead.industry, lead.interest, limit=8)
    files = drive.find_files(folder_ids, terms, max_results=25)
    allowed = [file for file in files if file.mime_type != "application/vnd.google-apps.folder"]
    return rank_assets(lead, allowed)
