"""Real office files for agents to save with ``ctx.file``: made by the libraries made for them.

``spreadsheet`` (openpyxl), ``document`` (python-docx), ``presentation`` (python-pptx)
and ``chart_png`` (matplotlib, Agg) each return the file's bytes. They are plain
functions that block: call them in a step, or through ``asyncio.to_thread``.
"""

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
PNG = "image/png"

Cell = str | int | float | bool | None


def spreadsheet(sheets: Mapping[str, Sequence[Sequence[Cell]]]) -> bytes:
    """An ``.xlsx`` workbook: one sheet per entry, its first row in bold as the header."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title=title[:31])
        for row in rows:
            sheet.append(list(row))
        for cell in sheet[1] if rows else ():
            cell.font = Font(bold=True)
        for index, column in enumerate(sheet.iter_cols(values_only=True), start=1):
            width = max((len(str(v)) for v in column if v is not None), default=8)
            sheet.column_dimensions[get_column_letter(index)].width = min(60, width + 2)
    if not book.sheetnames:
        book.create_sheet("Sheet1")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class Section:
    """A part of a document: a heading, paragraphs, an optional table and picture (PNG)."""

    heading: str
    paragraphs: Sequence[str] = ()
    table: Sequence[Sequence[Cell]] = ()
    picture: bytes | None = None


def document(title: str, sections: Sequence[Section]) -> bytes:
    """A ``.docx`` document: a title, then each section's heading, text, table and picture."""
    from docx import Document
    from docx.shared import Inches

    doc = Document()
    doc.add_heading(title, level=0)
    for section in sections:
        doc.add_heading(section.heading, level=1)
        for text in section.paragraphs:
            doc.add_paragraph(text)
        if section.table:
            rows = [list(r) for r in section.table]
            table = doc.add_table(rows=len(rows), cols=max(len(r) for r in rows))
            table.style = "Light Grid Accent 1"
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = "" if value is None else str(value)
        if section.picture is not None:
            doc.add_picture(io.BytesIO(section.picture), width=Inches(6))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@dataclass
class Slide:
    """A slide: a title, bullet points, and an optional picture (PNG)."""

    title: str
    bullets: Sequence[str] = field(default_factory=list)
    picture: bytes | None = None


def presentation(title: str, subtitle: str, slides: Sequence[Slide]) -> bytes:
    """A ``.pptx`` deck: a title slide, then one slide per entry."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = title
    first.placeholders[1].text = subtitle
    for entry in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = entry.title
        body = slide.placeholders[1].text_frame
        for i, bullet in enumerate(entry.bullets):
            paragraph = body.paragraphs[0] if i == 0 else body.add_paragraph()
            paragraph.text = bullet
        if entry.picture is not None:
            slide.shapes.add_picture(
                io.BytesIO(entry.picture), Inches(5), Inches(2), width=Inches(4.5)
            )
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def chart_png(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    kind: str = "bar",
    ylabel: str = "",
) -> bytes:
    """A ``.png`` chart of one or more series over the labels (``bar`` or ``line``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A Figure of its own (not pyplot's global one): safe from several threads at once.
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(labels))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        if kind == "line":
            axes.plot(list(positions), list(values), marker="o", label=name)
        else:
            shifted = [p + (i - (len(series) - 1) / 2) * width for p in positions]
            axes.bar(shifted, list(values), width=width, label=name)
    axes.set_xticks(list(positions), list(labels))
    axes.set_title(title)
    if ylabel:
        axes.set_ylabel(ylabel)
    if len(series) > 1:
        axes.legend()
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
