"""Unit tests of the research example's BM25 ranking and corpus loader (no server)."""

from pathlib import Path

import pytest
from examples.bm25 import BM25, CORPUS_DIR, load_corpus, tokenize

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def test_tokenize_lowercases_and_drops_stopwords():
    assert tokenize("How do Durable workflows recover after a CRASH?") == [
        "durable",
        "workflows",
        "recover",
        "crash",
    ]


def test_ranking_prefers_the_text_with_the_query_terms():
    index = BM25(
        [
            "The cat sat on the mat.",
            "SQLite keeps a write-ahead log next to the database file.",
            "Dogs chase cats around the garden.",
        ]
    )
    hits = index.search("write-ahead log", top_k=3)
    assert [i for i, _ in hits] == [1]
    assert hits[0][1] > 0


def test_idf_makes_rare_terms_count_more():
    index = BM25(["apple banana", "apple cherry", "apple date", "apple fig"])
    assert index.idf["cherry"] > index.idf["apple"] > 0
    # Each text has one query term; the one with the rare term wins.
    index = BM25(["apple pie", "cherry pie", "apple tart", "apple cake"])
    scores = index.scores("apple cherry")
    assert scores[1] == max(scores)
    assert scores[1] > scores[0] > 0


def test_longer_texts_are_normalised_down():
    index = BM25(["raft consensus", "raft consensus " + "filler words " * 20, "paxos"])
    scores = index.scores("raft")
    assert scores[0] > scores[1] > 0


def test_search_keeps_only_positive_scores_and_respects_top_k():
    index = BM25(["alpha beta", "alpha", "gamma", "alpha alpha beta"])
    hits = index.search("alpha", top_k=2)
    assert len(hits) == 2
    assert all(score > 0 for _, score in hits)
    assert hits[0][1] >= hits[1][1]
    assert 2 not in [i for i, _ in index.search("alpha", top_k=10)]


@pytest.mark.parametrize("query", ["", "   ", "the of and how", "zebra"])
def test_queries_without_known_terms_have_no_hits(query):
    index = BM25(["alpha beta", "gamma delta"])
    assert index.search(query, top_k=5) == []
    assert index.scores(query) == [0.0, 0.0]


def test_an_empty_index_has_no_hits():
    assert BM25([]).search("anything", top_k=3) == []


def test_every_corpus_file_has_a_title_and_a_body():
    documents = load_corpus()
    assert 8 <= len(documents) <= 12
    assert [doc.filename for doc in documents] == sorted(p.name for p in CORPUS_DIR.glob("*.md"))
    for doc in documents:
        assert doc.title and not doc.title.startswith("#")
        first_line = (CORPUS_DIR / doc.filename).read_text(encoding="utf-8").splitlines()[0]
        assert first_line == f"# {doc.title}"
        assert 150 <= len(doc.body.split()) <= 400, doc.filename
        assert doc.paragraphs and all(not p.startswith("#") for p in doc.paragraphs)


def test_corpus_is_cached():
    assert load_corpus() is load_corpus()


def test_corpus_loader_rejects_a_file_without_a_title(tmp_path: Path):
    (tmp_path / "bad.md").write_text("no title here\n\nbody\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.md"):
        load_corpus(tmp_path)


def test_the_corpus_answers_a_question_about_durable_execution():
    documents = load_corpus()
    index = BM25([f"{doc.title}\n{doc.body}" for doc in documents])
    best, _ = index.search("How do durable workflows recover after a crash?", top_k=1)[0]
    assert documents[best].filename == "durable-execution.md"
