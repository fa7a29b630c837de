"""Documents made in the test (never shipped as fixtures): a PDF with fpdf2, a Word file with python-docx,
a PowerPoint file with python-pptx; and helpers for the files and vector stores API."""
import io

import docx
import pptx
from fpdf import FPDF

CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def pdf_of(*paragraphs: str) -> bytes:
    document = FPDF()
    document.add_page()
    document.set_font("Helvetica", size=12)
    for paragraph in paragraphs:
        document.multi_cell(0, 8, paragraph)
        document.ln()
    return bytes(document.output())


def docx_of(*paragraphs: str) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_of(*texts: str) -> bytes:
    presentation = pptx.Presentation()
    for text in texts:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = text
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def upload(client, name: str, content: bytes | str, purpose: str = "assistants"):
    data = content.encode() if isinstance(content, str) else content
    return client.files.create(file=(name, io.BytesIO(data)), purpose=purpose)


def store_with(client, *files, **options):
    """A vector store holding ``files`` (name, content) pairs, indexed (upload_and_poll)."""
    store = client.vector_stores.create(name="docs", **options)
    for name, content in files:
        data = content.encode() if isinstance(content, str) else content
        done = client.vector_stores.files.upload_and_poll(vector_store_id=store.id,
                                                          file=(name, io.BytesIO(data)), poll_interval_ms=20)
        assert done.status == "completed", done.last_error
    return store
