"""A file's text, by the well-kept library for its kind (never a parser of our own):

    text = extraction.text_of(filename, content)     # or raises Unreadable(code, message)

PDF: pypdf; Word: python-docx; PowerPoint: python-pptx; HTML: Beautiful Soup; plain text, Markdown,
code, JSON, CSV and the like: decoded as UTF-8 (or UTF-16 with its byte-order mark). Anything else, and
any file its library cannot read, is Unreadable: the vector store file ends failed with that last_error."""
import io
import os

TEXT_EXTENSIONS = {
    ".txt", ".md", ".markdown", ".rst", ".json", ".jsonl", ".csv", ".tsv", ".xml", ".yaml", ".yml", ".toml",
    ".ini", ".log", ".tex", ".py", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cpp", ".hpp",
    ".cc", ".cs", ".go", ".rs", ".rb", ".php", ".sh", ".bash", ".css", ".scss", ".sql", ".swift", ".kt",
    ".scala", ".r", ".pl", ".lua", ".dart", ".vue", ".svelte",
}
HTML_EXTENSIONS = {".html", ".htm", ".xhtml"}


class Unreadable(Exception):
    """OpenAI's last_error of a vector store file: code "unsupported_file" or "invalid_file"."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def text_of(filename: str, content: bytes) -> str:
    extension = os.path.splitext(filename.lower())[1]
    reader = READERS.get(extension)
    if reader is None:
        if extension in TEXT_EXTENSIONS or extension in HTML_EXTENSIONS:
            reader = _html if extension in HTML_EXTENSIONS else _plain
        elif content.startswith(b"%PDF-"):
            reader = _pdf
        else:
            reader = _plain  # no known extension: text if it decodes as text
    try:
        text = reader(content)
    except Unreadable:
        raise
    except Exception as err:  # noqa: BLE001 - whatever the library raises, the file is unreadable
        raise Unreadable("invalid_file", f"The file {filename[:200]!r} could not be read as "
                                         f"{extension or 'text'}: {type(err).__name__}.") from None
    return text.replace("\x00", "")  # no database stores NUL in text


def _plain(content: bytes) -> str:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if content.startswith(bom):
            return content.decode(codec)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("unsupported_file", "The file is not text (UTF-8 or UTF-16) nor a kind this service "
                                             "reads (PDF, DOCX, PPTX, HTML).") from None


def _html(content: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(content, "html.parser")
    for hidden in soup(["script", "style", "noscript", "template"]):
        hidden.decompose()
    return soup.get_text("\n", strip=True)


def _pdf(content: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return "\n\n".join(page.extract_text() or "" for page in reader.pages)


def _docx(content: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(content))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _pptx(content: bytes) -> str:
    import pptx

    presentation = pptx.Presentation(io.BytesIO(content))
    parts = []
    for slide in presentation.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
    return "\n\n".join(parts)


READERS = {".pdf": _pdf, ".docx": _docx, ".pptx": _pptx}
