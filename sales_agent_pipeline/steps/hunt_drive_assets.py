"""Step 7: the files in the tenant's allowlisted Drive folders most relevant to the lead.

Relevance: the lead's terms are the meaningful words (and two-word phrases) of its message
(`interest`), its industry and its job title; stop words of the languages we support are
left out. Drive searches each term by full text (its name, description and content) inside
the allowlisted folders only. A file scores, for every term, the term's weight times
2 when its name holds the term, 1.5 when its description does, and 1 when Drive returned
it for the term (which is how content counts: we never read the content ourselves).
Weights: industry 3, message 2, job title 1; a phrase weighs twice its words' weight, so
"fleet automation" together beats "fleet" and "automation" scattered. A file with any
relevance gets a small bonus for being a case study or a one-pager; a file with none is
not offered. Ties go to the most recently modified file, then to Drive's own order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile
from sales_agent_pipeline.domain.workflow import AssetChoice
from sales_agent_pipeline.ports.vendors import Drive

FOLDER = "application/vnd.google-apps.folder"
# Function words and form filler of en, de, fr, es: they match every file and mean nothing.
_STOPWORD_TEXT = """
    a an and are about also any be been but by can could do does for from get have hello
    hi how info information interested into is it its just let like looking me more my
    need not now of on or our please some than thank thanks that the their them there
    these they this those to us very want was we what when where which who why will with
    would you your yours regarding re hey dear best regards team call demo meeting know
    learn discuss solution solutions question questions based
    aber alle als am an auch auf aus bei bin bis bitte da damit dann das dass dem den der
    des die dies diese dieser doch du ein eine einem einen einer eines er es etwas euch
    für gibt guten hallo hat hatte haben ich ihr ihre im in ins ist ja kann können
    könnten mehr mein meine mit möchte möchten nach nicht noch nur ob oder sehr sich sie
    sind so über um und uns unser unsere unseren unserer vom von vor war was welche wie
    wir wird würde würden zu zum zur zwei drei interesse grüße gruß danke freundlichen
    suchen suche brauchen benötigen informationen lösung lösungen frage fragen
    au aux avec bonjour ce ces cette dans de des du elle en est et être eux il ils je la
    le les leur leurs mais me merci mes moi mon ne nos notre nous ou où par pas plus pour
    qu que qui sa se ses son sont sur ta te toi ton très tu un une vos votre vous deux
    trois cordialement intéressé intéressés intéressée aimerions voudrions souhaitons
    cherchons cherche besoin savoir informations solution question questions
    al algo como con cual de del desde donde el ella ellos en entre era es esa ese eso
    esta este esto estos fue ha hay hola la las le les lo los más me mi mis muy ni no nos
    nuestra nuestro nuestros nuestras para pero por que quiero qué se ser si sin sobre
    son su sus también te tiene tu un una uno unos usted ustedes y ya dos tres gracias
    saludos interesa interesados nos gustaría buscamos busco necesitamos saber
    información solución soluciones pregunta preguntas
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Rank words of job titles: they say how senior, not what the lead works on.
_TITLE_NOISE_TEXT = """
    head chief officer senior junior lead manager director vice president principal
    associate assistant staff global regional vp svp evp ceo cto cfo coo cio ciso owner
    founder partner leiter leiterin geschäftsführer geschäftsführerin responsable
    directeur directrice chef jefe jefa gerente directora
"""
_TITLE_NOISE = frozenset(_TITLE_NOISE_TEXT.split())
_FORMAT_BONUS = (
    (("case", "study"), 1.0),
    (("fallstudie",), 1.0),
    (("étude", "de", "cas"), 1.0),
    (("caso", "de", "éxito"), 1.0),
    (("one", "pager"), 0.5),
    (("fiche",), 0.5),
)
_INDUSTRY, _MESSAGE, _TITLE = 3.0, 2.0, 1.0
_IN_NAME, _IN_DESCRIPTION, _RETURNED = 2.0, 1.5, 1.0
# Drive searches per lead: a few precise ones beat many loose ones (and cost fewer calls).
_MAX_SEARCHES = 6
_MAX_PHRASES = 2
_PER_SEARCH = 10
_LONGEST_WORD = 40
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    """A word or phrase of the lead, lower-case, with its weight."""

    text: str
    weight: float

    @property
    def phrase(self) -> bool:
        """Whether it has more than one word."""
        return " " in self.text


def _words(text: str | None) -> list[str]:
    # Drive's tokens: letters and digits; an all-capital two-letter word is an acronym.
    # A word longer than any real one is noise a lead typed; it would only bloat `q`.
    return [
        w.lower()
        for w in _WORD.findall(text or "")
        if not w.isdigit()
        and (len(w) >= 3 or (len(w) == 2 and w.isupper()))
        and len(w) <= _LONGEST_WORD
    ]


def _runs(text: str | None) -> Iterator[list[str]]:
    """Runs of meaningful words: punctuation or a stop word ends a run."""
    for clause in re.split(r"[^\w\s]+", text or ""):
        run: list[str] = []
        for word in re.findall(r"\w+", clause):
            lowered = word.lower()
            if lowered in _STOPWORDS or lowered not in _words(word):
                if run:
                    yield run
                run = []
            else:
                run.append(lowered)
        if run:
            yield run


def keywords(*texts: str | None, limit: int = 6) -> list[str]:
    """Distinct meaningful words of the texts, in order of first appearance."""
    found: list[str] = []
    for text in texts:
        for word in _words(text):
            if word not in _STOPWORDS and word not in found:
                found.append(word)
    return found[:limit]


def lead_terms(lead: Lead, limit: int = 12) -> list[Term]:
    """The lead's weighted terms: phrases of its message and industry, then its words."""
    weights: dict[str, float] = {}

    def add(text: str, weight: float) -> None:
        weights[text] = max(weights.get(text, 0.0), weight)

    for source, weight in ((lead.industry, _INDUSTRY), (lead.interest, _MESSAGE)):
        for run in _runs(source):
            for first, second in itertools.pairwise(run):
                add(f"{first} {second}", 2 * weight)
    for word in keywords(lead.industry, limit=limit):
        add(word, _INDUSTRY)
    for word in keywords(lead.interest, limit=limit):
        add(word, _MESSAGE)
    for word in keywords(lead.job_title, limit=limit):
        if word not in _TITLE_NOISE:
            add(word, _TITLE)
    terms = [Term(text, weight) for text, weight in weights.items()]
    phrases = [t for t in terms if t.phrase][:_MAX_PHRASES]
    single = sorted((t for t in terms if not t.phrase), key=lambda t: -t.weight)
    return (phrases + single)[:limit]


def _stem(word: str) -> str:
    # Plural and inflection endings (warehouse/warehouses, Lager/Lagern): a light stemmer,
    # the same on both sides, so a file matches the form of a word the lead used.
    for suffix in ("es", "en", "s", "e", "n"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _holds(text: str | None, term: Term) -> bool:
    """Whether the text holds the term's words in order, side by side (a word: anywhere)."""
    have = [_stem(w) for w in _words(text)]
    want = [_stem(w) for w in term.text.split()]
    return any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def _format_bonus(file: DriveFile) -> float:
    text = [w.lower() for w in _WORD.findall(f"{file.name} {file.description or ''}")]
    bonus = 0.0
    for marker, value in _FORMAT_BONUS:
        size = len(marker)
        if any(tuple(text[i : i + size]) == marker for i in range(len(text) - size + 1)):
            bonus = max(bonus, value)
    return bonus


def score(
    file: DriveFile, terms: Sequence[Term], returned_for: Collection[str] = frozenset()
) -> float:
    """Relevance of a file to the lead's terms (the rule: this module's docstring)."""
    value = 0.0
    for term in terms:
        value += term.weight * _IN_NAME * _holds(file.name, term)
        value += term.weight * _IN_DESCRIPTION * _holds(file.description, term)
        value += term.weight * _RETURNED * (term.text in returned_for)
    return value + _format_bonus(file) if value > 0 else 0.0


def rank_assets(
    lead: Lead,
    files: Sequence[DriveFile],
    returned_for: Mapping[str, Collection[str]] | None = None,
    limit: int = 3,
) -> AssetChoice:
    """Files with any relevance, best first; `returned_for` maps a file's id to the terms
    Drive's full-text search returned it for. Ties: the newest, then Drive's order."""
    terms = lead_terms(lead)
    found = returned_for or {}
    oldest = datetime.min.replace(tzinfo=UTC)
    scored = [(score(f, terms, found.get(f.id, ())), f) for f in files]
    relevant = [pair for pair in scored if pair[0] > 0]
    relevant.sort(key=lambda pair: (-pair[0], -(pair[1].modified_time or oldest).timestamp()))
    return AssetChoice(ranked=tuple(file for _, file in relevant[:limit]))


def hunt_drive_assets(drive: Drive, lead: Lead, folder_ids: Sequence[str]) -> AssetChoice:
    """Search only the allowlisted folders (the connector never looks elsewhere), one
    full-text search per term, then rank."""
    terms = lead_terms(lead)
    if not folder_ids or not terms:
        return AssetChoice()
    files: dict[str, DriveFile] = {}
    returned_for: dict[str, set[str]] = {}
    for term in terms[:_MAX_SEARCHES]:
        for file in drive.find_files(folder_ids, [term.text], max_results=_PER_SEARCH):
            if file.mime_type == FOLDER:
                continue
            files.setdefault(file.id, file)
            returned_for.setdefault(file.id, set()).add(term.text)
    return rank_assets(lead, list(files.values()), returned_for)
