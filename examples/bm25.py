"""Okapi BM25 ranking and the bundled markdown corpus, used by the research example."""

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"

STOPWORDS = frozenset(
    """a about after all an and any are as at be been before but by can could do does
    for from had has have how i if in into is it its no not of on or our so such than
    that the their them then there these they this those to was we were what when where
    which while who why will with would you your""".split()
)

_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lowercase words of ``text``, without stopwords."""
    return [word for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


class BM25:
    """An Okapi BM25 index over a fixed list of texts."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.counts = [Counter(tokenize(text)) for text in texts]
        self.lengths = [sum(counts.values()) for counts in self.counts]
        self.avgdl = (sum(self.lengths) / len(self.lengths) if self.lengths else 0.0) or 1.0
        n = len(self.counts)
        df = Counter(term for counts in self.counts for term in counts)
        # Lucene's idf: like the classic ln((N - n + .5) / (n + .5)) but never negative.
        self.idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in df.items()}

    def scores(self, query: str) -> list[float]:
        """The score of every text for ``query`` (each distinct query term counts once)."""
        terms = [term for term in dict.fromkeys(tokenize(query)) if term in self.idf]
        result = []
        for counts, length in zip(self.counts, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / self.avgdl)
            score = 0.0
            for term in terms:
                f = counts.get(term, 0)
                if f:
                    score += self.idf[term] * f * (self.k1 + 1) / (f + norm)
            result.append(score)
        return result

    def search(self, query: str, top_k: int) -> list[tuple[int, float]]:
        """The ``top_k`` best ``(index, score)`` pairs with a score above 0, best first."""
        ranked = [(i, score) for i, score in enumerate(self.scores(query)) if score > 0]
        ranked.sort(key=lambda pair: (-pair[1], pair[0]))
        return ranked[:top_k]


@dataclass(frozen=True)
class Document:
    """One markdown file of the corpus."""

    filename: str
    title: str
    body: str

    @property
    def paragraphs(self) -> list[str]:
        """The body's paragraphs, each joined into one line; headings left out."""
        blocks = (" ".join(block.split()) for block in re.split(r"\n\s*\n", self.body))
        return [block for block in blocks if block and not block.startswith("#")]


@lru_cache(maxsize=4)
def load_corpus(directory: Path = CORPUS_DIR) -> tuple[Document, ...]:
    """Read every ``*.md`` file of ``directory``, sorted by name; the first line is the title."""
    documents = []
    for path in sorted(directory.glob("*.md")):
        first, _, body = path.read_text(encoding="utf-8").partition("\n")
        if not first.startswith("# ") or not first[2:].strip():
            raise ValueError(f"{path.name} must start with a '# Title' line")
        documents.append(Document(path.name, first[2:].strip(), body.strip()))
    return tuple(documents)


@lru_cache(maxsize=4)
def corpus_index(directory: Path = CORPUS_DIR) -> BM25:
    """A BM25 index over the corpus's documents (title and body), in ``load_corpus`` order."""
    return BM25([f"{doc.title}\n{doc.body}" for doc in load_corpus(directory)])
