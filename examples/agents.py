"""Example agents: ``echo``, ``delegate``, ``steps``, ``research``, ``fail``, ``call_tools``, ``report``…"""

import asyncio
import csv
import hashlib
import io
import os
import re
import secrets
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from examples.bm25 import BM25, corpus_index, load_corpus, tokenize
from runplane import RunContext, RunError, ToolError, agent, tool
from runplane.agents import office

# Test hook: when this names a directory, each step of the ``steps`` agent appends
# "<run_id> <index>" to <dir>/steps.log, so tests can count side effects across crashes.
SIDE_EFFECTS_ENV = "RUNPLANE_EXAMPLES_SIDE_EFFECTS"

ANY_OBJECT: dict[str, Any] = {"type": "object"}

M = TypeVar("M", bound=BaseModel)


# -- echo ------------------------------------------------------------------------------


async def _identity(value: Any) -> Any:
    return value


@agent("echo", input_schema=ANY_OBJECT, output="json")
async def echo(ctx: RunContext, input: dict[str, Any]) -> Any:
    """Return its input unchanged, from one durable step."""
    return await ctx.step("echo", _identity, input)


# -- delegate --------------------------------------------------------------------------


class DelegateInput(BaseModel):
    agent: str = Field("echo", min_length=1)
    input: Any = None
    wait: bool = True


@agent("delegate", input_schema=DelegateInput, output="json")
async def delegate(ctx: RunContext, input: DelegateInput) -> Any:
    """Run another agent (``echo`` by default) as a child run and return its result.

    With ``{"wait": false}`` it returns the child's run id at once instead.
    """
    params = _coerce(DelegateInput, input)
    child_input = params.input if params.input is not None else {"message": "hi"}
    return await ctx.run_agent(params.agent, child_input, wait=params.wait)


# -- steps -----------------------------------------------------------------------------


class StepsInput(BaseModel):
    steps: int = Field(3, ge=1, le=1000)
    sleep: float = Field(0.0, ge=0, le=3600)


def _record_side_effect(run_id: str, index: int) -> None:
    directory = os.environ.get(SIDE_EFFECTS_ENV)
    if not directory:
        return
    with open(Path(directory) / "steps.log", "a", encoding="utf-8") as log:
        log.write(f"{run_id} {index}\n")
        log.flush()
        os.fsync(log.fileno())


async def _numbered_step(run_id: str, index: int, sleep: float) -> dict[str, Any]:
    _record_side_effect(run_id, index)  # test hook, see SIDE_EFFECTS_ENV
    await asyncio.sleep(sleep)
    return {"index": index, "nonce": secrets.token_hex(8)}


@agent("steps", input_schema=StepsInput, output="json")
async def steps(ctx: RunContext, input: StepsInput) -> dict[str, Any]:
    """Run a number of durable steps, each sleeping a while and returning a random nonce."""
    params = _coerce(StepsInput, input)
    outputs = []
    for i in range(1, params.steps + 1):
        outputs.append(await ctx.step(f"step-{i}", _numbered_step, ctx.run_id, i, params.sleep))
    return {"steps": outputs}


# -- research --------------------------------------------------------------------------


class ResearchInput(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(3, ge=1, le=10)


MAX_EXTRACT_WORDS = 90


@tool(description="Rank the bundled corpus of notes with BM25 and return the best documents.")
def search_corpus(query: str, top_k: int) -> list[dict[str, Any]]:
    """The ``top_k`` corpus documents that BM25 ranks highest for ``query``."""
    documents = load_corpus()
    return [
        {"file": documents[i].filename, "title": documents[i].title, "score": round(score, 4)}
        for i, score in corpus_index().search(query, top_k)
    ]


def read_extracts(query: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paragraph of each hit that best matches ``query``, shortened to a few sentences."""
    by_name = {doc.filename: doc for doc in load_corpus()}
    extracts = []
    for hit in hits:
        paragraphs = by_name[hit["file"]].paragraphs
        best = BM25(paragraphs).search(query, 1)
        paragraph = paragraphs[best[0][0]] if best else paragraphs[0]
        extracts.append({**hit, "excerpt": _shorten(paragraph, MAX_EXTRACT_WORDS)})
    return extracts


@agent("research", input_schema=ResearchInput, output="document")
async def research(ctx: RunContext, input: ResearchInput) -> str:
    """Answer a question from a bundled corpus of technical notes, with cited sources."""
    params = _coerce(ResearchInput, input)
    question = " ".join(params.question.split())
    terms = list(dict.fromkeys(tokenize(question)))
    await ctx.plan(
        [
            "Pick out the question's key terms",
            f"Rank the bundled corpus with BM25 and keep the top {params.top_k} documents",
            "Read the best-matching paragraph of each document",
            "Write an answer that cites each paragraph it uses",
        ],
        format="json",
    )
    if terms:
        await ctx.reason(
            f"I will look for documents about {_join(terms)}, ranking rare terms above "
            f"common ones, and read the {params.top_k} best."
        )
    else:
        await ctx.reason("The question has no searchable terms besides common words.")

    hits = await ctx.tool("search_corpus", query=question, top_k=params.top_k)

    if not hits:
        await ctx.reason("No document in the corpus contains any of the question's terms.")
        titles = ", ".join(doc.title for doc in load_corpus())
        return (
            f"# {question}\n\n"
            f"None of the {len(load_corpus())} documents in the bundled corpus matches this "
            f"question, so there is nothing to answer it from.\n\n"
            f"The corpus covers: {titles}.\n"
        )

    extracts = await ctx.step("read", read_extracts, question, hits)
    for extract in extracts:
        await ctx.source(
            extract["title"],
            url=f"corpus://{extract['file']}",
            score=extract["score"],
            excerpt=extract["excerpt"],
        )
    best = extracts[0]
    await ctx.reason(
        f'{_count(len(extracts), "document")} matched; the strongest is "{best["title"]}" '
        f"(BM25 score {best['score']:.2f}), so the answer leads with it."
    )
    return _document(question, extracts)


def _document(question: str, extracts: list[dict[str, Any]]) -> str:
    lines = [
        f"# {question}",
        "",
        f"Drawn from the {_count(len(extracts), 'most relevant note')} in the bundled corpus, "
        "strongest match first.",
        "",
    ]
    for number, extract in enumerate(extracts, start=1):
        lines += [f"{extract['excerpt']} [{number}]", ""]
    lines += ["## Sources", ""]
    for number, extract in enumerate(extracts, start=1):
        lines.append(
            f"{number}. [{extract['title']}](corpus://{extract['file']}) "
            f"(BM25 score {extract['score']:.2f})"
        )
    return "\n".join(lines) + "\n"


# -- fail ------------------------------------------------------------------------------


def _prepare() -> dict[str, Any]:
    return {"ok": True}


def _explode() -> None:
    raise RunError("the fail agent's second step always fails", code="example_failure")


@agent("fail", input_schema=ANY_OBJECT, output="json")
async def fail(ctx: RunContext, input: dict[str, Any]) -> Any:
    """Complete one step, then fail with the error code example_failure.

    With ``{"in_step": true}`` the failure happens inside a second step.
    """
    await ctx.step("prepare", _prepare)
    if input.get("in_step"):
        await ctx.step("explode", _explode)
    raise RunError("the fail agent always fails after its first step", code="example_failure")


# -- call_tools ------------------------------------------------------------------------


class ToolCall(BaseModel):
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = {}


class CallToolsInput(BaseModel):
    calls: list[ToolCall] = Field(min_length=1, max_length=100)


@agent("call_tools", input_schema=CallToolsInput, output="json", integrations="*")
async def call_tools(ctx: RunContext, input: CallToolsInput) -> dict[str, Any]:
    """Call the given tools in order; a refused or rejected call is reported, not fatal."""
    params = _coerce(CallToolsInput, input)
    results: list[dict[str, Any]] = []
    for call in params.calls:
        try:
            output = await ctx.tool(call.tool, **call.arguments)
        except ToolError as exc:
            results.append({"tool": call.tool, "error": {"code": exc.code, "message": exc.message}})
            continue
        results.append({"tool": call.tool, "output": output})
    return {"results": results}


# -- helpers ---------------------------------------------------------------------------


def _coerce(model: type[M], value: Any) -> M:
    return value if isinstance(value, model) else model.model_validate(value)


def _shorten(paragraph: str, max_words: int) -> str:
    """Whole sentences of ``paragraph`` up to ``max_words`` words (at least the first)."""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`])", paragraph)
    kept: list[str] = []
    for sentence in sentences:
        if kept and len(" ".join([*kept, sentence]).split()) > max_words:
            break
        kept.append(sentence)
    return " ".join(kept)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _join(words: list[str]) -> str:
    quoted = [f'"{word}"' for word in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


# -- files -----------------------------------------------------------------------------


@agent("read_files", input_schema=ANY_OBJECT, output="json")
async def read_files(ctx: RunContext, input: dict[str, Any]) -> Any:
    """List the files the run was given (``file_ids``, ``site_ids``) with their bytes' hash."""
    listed = []
    for f in ctx.files:
        data = await f.read()
        listed.append(
            {
                "id": f.id,
                "name": f.name,
                "media_type": f.media_type,
                "size": f.size,
                "sha256": f.sha256,
                "site_id": f.site_id,
                "read_sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return {"files": listed}


class ArtifactsInput(BaseModel):
    parts: int = Field(2, ge=1, le=20)
    sleep: float = Field(0.0, ge=0, le=60)


@agent("artifacts", input_schema=ArtifactsInput, output="json")
async def artifacts(ctx: RunContext, input: ArtifactsInput) -> dict[str, Any]:
    """Save one text file per step, each with that step's random output in it."""
    for index in range(1, input.parts + 1):
        out = await ctx.step(f"part-{index}", _numbered_step, ctx.run_id, index, input.sleep)
        assert isinstance(out, dict)
        await ctx.file(f"part-{index}.txt", f"part {index}: {out['nonce']}\n".encode())
    return {"parts": input.parts}


# -- report ----------------------------------------------------------------------------


class ReportInput(BaseModel):
    title: str = Field("Report", min_length=1, max_length=200)


def _parse_tables(sources: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each CSV as a table: its header, and rows of a label then numbers."""
    tables = []
    for source in sources:
        rows = [r for r in csv.reader(io.StringIO(source["text"])) if r]
        if not rows:
            continue
        header, body = rows[0], rows[1:]
        parsed = [[r[0], *(_number(v) for v in r[1:])] for r in body]
        tables.append({"name": source["name"], "header": header, "rows": parsed})
    return tables


def _number(value: str) -> float:
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return 0.0


def _summarize(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per table and numeric column: its total, mean and best row."""
    summary = []
    for table in tables:
        for col, name in enumerate(table["header"][1:], start=1):
            values = [row[col] for row in table["rows"] if col < len(row)]
            if not values:
                continue
            best = max(table["rows"], key=lambda row: row[col] if col < len(row) else 0)
            summary.append(
                {
                    "file": table["name"],
                    "column": name,
                    "total": round(sum(values), 2),
                    "mean": round(sum(values) / len(values), 2),
                    "best": best[0],
                }
            )
    return summary


@agent("report", input_schema=ReportInput, output="json")
async def report(ctx: RunContext, input: ReportInput) -> dict[str, Any]:
    """Read the run's CSV files (its sites') and save a spreadsheet, a document and a deck."""
    sources = [
        {"name": f.name, "text": await f.text()}
        for f in ctx.files
        if f.media_type == "text/csv" or f.name.lower().endswith(".csv")
    ]
    if not sources:
        raise RunError("give the run a site (site_ids) or files with CSV data", code="no_csv")
    tables = await ctx.step("read", _parse_tables, sources)
    summary = await ctx.step("summarize", _summarize, tables)
    assert isinstance(tables, list) and isinstance(summary, list)
    first = tables[0]
    labels = [str(row[0]) for row in first["rows"]]
    series = {
        str(name): [row[col] for row in first["rows"]]
        for col, name in enumerate(first["header"][1:], start=1)
    }
    chart = await asyncio.to_thread(
        office.chart_png, f"{input.title}: {first['name']}", labels, series
    )
    await ctx.file("chart.png", chart, office.PNG)
    summary_rows = [["File", "Column", "Total", "Mean", "Best"]] + [
        [s["file"], s["column"], s["total"], s["mean"], s["best"]] for s in summary
    ]
    sheets = {"Summary": summary_rows}
    for table in tables:
        sheets[Path(table["name"]).stem[:31]] = [table["header"], *table["rows"]]
    await ctx.file("report.xlsx", await asyncio.to_thread(office.spreadsheet, sheets), office.XLSX)
    lines = [
        f"{s['column']} in {s['file']}: total {s['total']}, mean {s['mean']}, best {s['best']}."
        for s in summary
    ]
    sections = [
        office.Section("Summary", lines, table=summary_rows),
        office.Section(f"Chart: {first['name']}", [], picture=chart),
    ]
    doc = await asyncio.to_thread(office.document, input.title, sections)
    await ctx.file("report.docx", doc, office.DOCX)
    slides = [
        office.Slide("Highlights", lines[:6]),
        office.Slide(f"{first['name']}", [f"{len(labels)} rows"], picture=chart),
    ]
    deck = await asyncio.to_thread(
        office.presentation, input.title, f"From {len(tables)} CSV files", slides
    )
    await ctx.file("report.pptx", deck, office.PPTX)
    return {"title": input.title, "tables": len(tables), "summary": summary}
