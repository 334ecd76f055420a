"""Real text for a project: documents, their curation, a split by document, and a small task cut from them.

Notebook 10 (the capstone) runs the course's whole pipeline on these. Three sources, behind one setting
(``load_corpus``):

* ``"stdlib"`` (the default, offline everywhere): the ``.py`` files of the Python standard library of the
  interpreter that runs the code, read from disk at run time and never copied anywhere. Every machine with
  Python has them; their content differs a little between Python versions, so results are close, not equal.
  The subset is deterministic: the files are taken in a fixed pseudo-random order (sorted by a hash of their
  path, so the sample spreads over the whole library) until a size cap is reached; a larger cap gives a
  superset.
* ``"book"``: a public-domain book fetched with ``course_utils.download`` (sha256-checked, cached). Offline,
  one line says so and the standard library is used instead.
* ``"own"``: your own text: a file, or a folder of text files.

A **document** is one file (a book, or a single file of your own, is cut into pieces at blank lines, so that
there is something to hold out). Curation follows notebook 05: too-short documents, exact duplicates and
MinHash near-duplicates are removed, e-mail addresses and phone numbers replaced. ``split_by_document`` puts
every document wholly on one side, decided by a hash of its name: adding or removing a document never moves
another one across.

The task for fine-tuning (``task_pairs``) comes from the same documents: for Python source, the first line of
a function's code from its signature (and docstring); for prose, the line after a paragraph's first line.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from .data import exact_duplicates, near_duplicates, scrub_pii
from .validation import is_int, is_number

__all__ = ["Document", "SOURCES", "stdlib_root", "stdlib_documents", "book_documents", "text_documents",
           "cut_into_pieces", "load_corpus", "curate", "split_fraction", "split_by_document", "char_stats",
           "encode_documents", "function_first_lines", "paragraph_second_lines", "task_pairs",
           "BOOK_URL", "BOOK_SHA256", "TEXT_SUFFIXES"]

SOURCES = ("stdlib", "book", "own")

# Shakespeare's collected plays as one 1.1 MB file (the text of nanoGPT's character-level recipe); public domain.
BOOK_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
BOOK_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

# Files of a folder that count as text (anything else in the folder is ignored).
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".py", ".tex", ".html", ".csv", ".json", ".js", ".c", ".h", ".java")

_SKIP_DIRS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}


@dataclass(frozen=True)
class Document:
    """One document of a corpus: a name that identifies it (a relative path) and its text."""

    name: str
    text: str

    def __len__(self) -> int:
        return len(self.text)


# --------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------

def _decode(data: bytes, where: str) -> str:
    """Bytes -> text, or a ValueError saying why the bytes are not a text file."""
    if b"\0" in data:
        raise ValueError(f"{where} is not a text file: it contains NUL bytes (an image, an archive, a binary?)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not a text file: it is not valid UTF-8 ({exc.reason} at byte "
                         f"{exc.start}); save it as UTF-8 text") from None


def stdlib_root() -> Path:
    """The folder of the running interpreter's standard library."""
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_documents(max_chars: int = 1_500_000, max_file_chars: int = 100_000,
                     root: str | Path | None = None) -> list[Document]:
    """The standard library's ``.py`` files as documents, named by their path relative to the library.

    Left out: installed packages (site-packages, dist-packages), the test suites (folders named test, tests,
    idle_test), files over ``max_file_chars`` (generated tables and data dumps, such as pydoc's topics) and
    files that are not UTF-8. The rest are taken in the order of the SHA-256 of "stdlib:" + their path until
    the next file would pass ``max_chars`` in total: a fixed, well-spread sample (a larger cap gives a superset).
    ``root`` reads another library folder (another Python version's, say) instead of this interpreter's."""
    for name, value in (("max_chars", max_chars), ("max_file_chars", max_file_chars)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    root = stdlib_root() if root is None else Path(root)
    if not root.is_dir():
        raise ValueError(f"no standard library folder at {root}")
    paths = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(s for s in subfolders if s not in _SKIP_DIRS)   # prune: never walk into them
        paths += [Path(folder) / f for f in files if f.endswith(".py")]
    order = sorted(paths, key=lambda p: hashlib.sha256(("stdlib:" + p.relative_to(root).as_posix()).encode())
                   .hexdigest())
    documents, total = [], 0
    for path in order:
        data = path.read_bytes()
        if len(data) > max_file_chars:
            continue
        try:
            text = _decode(data, str(path))
        except ValueError:
            continue
        if total + len(text) > max_chars:
            break
        documents.append(Document(path.relative_to(root).as_posix(), text))
        total += len(text)
    return documents


def cut_into_pieces(text: str, name: str, piece_chars: int = 20_000) -> list[Document]:
    """Cut one long text into documents of about ``piece_chars`` characters, at blank lines where there are
    any (a piece ends at the first blank line after ``piece_chars`` characters). Named ``name#1``, ``name#2``...
    Joined back together, the pieces are the text."""
    if not is_int(piece_chars) or piece_chars < 1:
        raise ValueError(f"piece_chars must be an int >= 1, got {piece_chars!r}")
    pieces, start = [], 0
    while start < len(text):
        end = text.find("\n\n", start + piece_chars)
        end = len(text) if end == -1 else end + 2
        pieces.append(text[start:end])
        start = end
    width = len(str(len(pieces)))
    return [Document(f"{name}#{i + 1:0{width}d}", piece) for i, piece in enumerate(pieces)]


def book_documents(url: str = BOOK_URL, sha256: str = BOOK_SHA256, *, piece_chars: int = 20_000,
                   cache_dir: str | Path | None = None, quiet: bool = False) -> list[Document] | None:
    """A public-domain book, downloaded once (sha256-checked, cached) and cut into pieces at blank lines.
    Offline (or with ``LLM_MECHANICS_OFFLINE=1`` and nothing cached): one line on stderr and ``None``."""
    from .download import download

    filename = "tinyshakespeare.txt" if url == BOOK_URL else None   # the file notebook 05 caches too
    path = download(url, sha256, filename=filename, cache_dir=cache_dir, quiet=quiet)
    if path is None:
        return None
    text = _decode(path.read_bytes(), path.name)
    return cut_into_pieces(text, path.name, piece_chars)


def text_documents(path: str | Path, *, piece_chars: int = 20_000) -> list[Document]:
    """Your own text. A file is cut into pieces at blank lines (one file alone has nothing to hold out); a
    folder gives one document per text file in it (suffixes in ``TEXT_SUFFIXES``, searched recursively).
    A file that is not UTF-8 text, or an empty one, is a ValueError that names it."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise ValueError(f"the folder {path} has no text files (looked for {', '.join(TEXT_SUFFIXES)})")
        documents = [Document(f.relative_to(path).as_posix(), _decode(f.read_bytes(), str(f))) for f in files]
        return [d for d in documents if d.text.strip()]
    if not path.is_file():
        raise ValueError(f"no file or folder at {path}")
    text = _decode(path.read_bytes(), str(path))
    if not text.strip():
        raise ValueError(f"{path} is empty: there is no text to train on")
    return cut_into_pieces(text, path.name, piece_chars)


def load_corpus(source: str = "stdlib", path: str | Path | None = None, *, max_chars: int = 1_500_000,
                piece_chars: int = 20_000, book_url: str = BOOK_URL, book_sha256: str = BOOK_SHA256,
                cache_dir: str | Path | None = None, quiet: bool = False) -> tuple[list[Document], str]:
    """The corpus of one setting: ``"stdlib"``, ``"book"`` (``book_url``, pinned by ``book_sha256``) or
    ``"own"`` (with ``path``), at most ``max_chars`` characters of it. Returns the documents and a one-line
    description of where they came from. The book, when it cannot be had, falls back to the standard library
    with one printed line. An empty corpus is a ValueError."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if not is_int(max_chars) or max_chars < 1:
        raise ValueError(f"max_chars must be an int >= 1, got {max_chars!r}")
    if source == "own":
        if path is None:
            raise ValueError('source="own" needs the path of your text file or folder')
        documents = _capped(text_documents(path, piece_chars=piece_chars), max_chars)
        description = f"your own text: {Path(path).name}"
    elif source == "book":
        documents = book_documents(book_url, book_sha256, piece_chars=piece_chars, cache_dir=cache_dir,
                                   quiet=quiet)
        if documents is None:
            if not quiet:
                print("The book is not available offline; using the Python standard library instead.")
            source = "stdlib"
        else:
            documents = _capped(documents, max_chars)
            description = ("a public-domain book: Shakespeare's plays (tinyshakespeare)" if book_url == BOOK_URL
                           else f"a book: {book_url.rsplit('/', 1)[-1]}")
    if source == "stdlib":
        import sys

        documents = stdlib_documents(max_chars)
        description = f"the Python {sys.version_info.major}.{sys.version_info.minor} standard library's source"
    if not documents or not any(d.text.strip() for d in documents):
        raise ValueError(f"the corpus is empty ({description}): there is no text to train on")
    return documents, description


def _capped(documents: list[Document], max_chars: int) -> list[Document]:
    """The first documents, in order, up to ``max_chars`` in total (always at least one)."""
    out, total = [], 0
    for d in documents:
        if out and total + len(d) > max_chars:
            break
        out.append(d)
        total += len(d)
    return out


# --------------------------------------------------------------------------------------------------
# Curation and the split
# --------------------------------------------------------------------------------------------------

def curate(documents: Sequence[Document], *, min_chars: int = 200, near_threshold: float = 0.7,
           num_perm: int = 32, bands: int = 8) -> tuple[list[Document], dict]:
    """Notebook 05's cleaning, in order: drop documents under ``min_chars`` characters, exact duplicates
    (the later copy), MinHash near-duplicates (the later of each pair whose estimated Jaccard similarity of
    5-word shingles is at least ``near_threshold``), then replace e-mail addresses and phone numbers.

    Returns the kept documents and a report: the names removed at each step, the near-duplicate pairs
    (kept, removed, estimate), the PII replaced (counts and the names of the documents that had some)."""
    documents = list(documents)
    if not documents:
        raise ValueError("the corpus is empty: no documents to curate")
    if not is_int(min_chars) or min_chars < 0:
        raise ValueError(f"min_chars must be an int >= 0, got {min_chars!r}")
    if not is_number(near_threshold) or not 0 < near_threshold <= 1:
        raise ValueError(f"near_threshold must be a Jaccard similarity in (0, 1], got {near_threshold!r}")
    report: dict = {"documents": len(documents), "characters": sum(map(len, documents))}
    short = [d for d in documents if len(d.text.strip()) < min_chars]
    kept = [d for d in documents if len(d.text.strip()) >= min_chars]
    report["too_short"] = [d.name for d in short]
    exact = set(exact_duplicates([d.text for d in kept]))
    report["exact_duplicates"] = [kept[i].name for i in sorted(exact)]
    kept = [d for i, d in enumerate(kept) if i not in exact]
    pairs = near_duplicates([d.text for d in kept], threshold=near_threshold, num_perm=num_perm, bands=bands) \
        if len(kept) > 1 else []
    dropped = {j for _, j, _ in pairs}
    report["near_duplicates"] = [(kept[i].name, kept[j].name, estimate) for i, j, estimate in pairs]
    kept = [d for i, d in enumerate(kept) if i not in dropped]
    pii, with_pii = Counter(), []
    scrubbed = []
    for d in kept:
        text, counts = scrub_pii(d.text)
        pii.update(counts)
        if any(counts.values()):
            with_pii.append(d.name)
        scrubbed.append(Document(d.name, text))
    report["pii"] = dict(pii)
    report["pii_documents"] = with_pii
    report["kept"] = len(scrubbed)
    report["kept_characters"] = sum(map(len, scrubbed))
    if not scrubbed:
        raise ValueError(f"curation removed every document ({report['documents']} were too short or "
                         f"duplicates): there is no text left to train on")
    return scrubbed, report


def split_fraction(name: str) -> float:
    """A number in [0, 1) fixed by the name alone: the first 8 hex digits of its SHA-256, divided by 16^8."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) / 16 ** 8


def split_by_document(documents: Sequence[Document], val_fraction: float = 0.2
                      ) -> tuple[list[Document], list[Document]]:
    """(train, validation): a document goes to validation when ``split_fraction(name) < val_fraction``, so
    about that share of the documents does, each wholly on one side, and the order of the input is kept.
    If no document falls under the fraction, the one with the smallest ``split_fraction`` is held out, so
    validation is never empty; a corpus of one document cannot be split (ValueError)."""
    documents = list(documents)
    if not is_number(val_fraction) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a share in (0, 1), got {val_fraction!r}")
    if len(documents) < 2:
        raise ValueError(f"need at least 2 documents to hold some out, got {len(documents)}; cut a long text "
                         "into pieces (cut_into_pieces)")
    if len({d.name for d in documents}) != len(documents):
        raise ValueError("document names must be unique: the split is decided by the name")
    held = [split_fraction(d.name) < val_fraction for d in documents]
    if not any(held):
        held[min(range(len(documents)), key=lambda i: split_fraction(documents[i].name))] = True
    if all(held):
        raise ValueError(f"every one of the {len(documents)} documents fell into validation; lower val_fraction")
    train = [d for d, h in zip(documents, held) if not h]
    val = [d for d, h in zip(documents, held) if h]
    return train, val


def char_stats(documents: Sequence[Document]) -> dict:
    """Size and character statistics: documents, characters, UTF-8 bytes, lines, distinct characters, the
    share of whitespace, letters, digits, other ASCII symbols and non-ASCII characters, the 10 most common
    characters with their shares, and each document's length."""
    documents = list(documents)
    counts = Counter()
    for d in documents:
        counts.update(d.text)
    n = sum(counts.values())
    if n == 0:
        raise ValueError("the corpus is empty: no characters to count")

    def share(test) -> float:
        return sum(c for ch, c in counts.items() if test(ch)) / n

    return {
        "documents": len(documents), "characters": n, "bytes": sum(len(d.text.encode("utf-8")) for d in documents),
        "lines": sum(d.text.count("\n") for d in documents), "distinct": len(counts),
        "whitespace": share(str.isspace), "letters": share(lambda ch: ch.isascii() and ch.isalpha()),
        "digits": share(lambda ch: ch.isascii() and ch.isdigit()),
        "symbols": share(lambda ch: ch.isascii() and not ch.isalnum() and not ch.isspace()),
        "non_ascii": share(lambda ch: not ch.isascii()),
        "top": [(ch, c / n) for ch, c in counts.most_common(10)],
        "lengths": [len(d) for d in documents],
    }


def encode_documents(tokenizer, documents: Sequence[Document], separator: str = "<|endoftext|>") -> torch.Tensor:
    """One token stream: the separator's token before each document, then the document's tokens (its text
    encoded as ordinary text, so a document that contains the separator's text cannot fake one). Uses the
    tokenizer's tiktoken twin when it has one (same IDs, much faster)."""
    if separator not in tokenizer.special_tokens:
        raise ValueError(f"the tokenizer has no special token {separator!r}")
    fast = tokenizer.to_tiktoken() if hasattr(tokenizer, "to_tiktoken") else tokenizer
    sep = tokenizer.special_tokens[separator]
    ids: list[int] = []
    for d in documents:
        ids.append(sep)
        ids += fast.encode_ordinary(d.text)
    return torch.tensor(ids, dtype=torch.long)


# --------------------------------------------------------------------------------------------------
# A small, checkable task from the same documents
# --------------------------------------------------------------------------------------------------

def function_first_lines(documents: Sequence[Document]) -> list[tuple[str, str]]:
    """(prompt, answer) pairs from Python source: the prompt is a function's ``def`` line(s), its docstring if
    it has one, and any blank or comment lines before the first statement of its code; the answer is the first
    line of that statement, with its indentation and a final newline. Functions whose body is only a docstring
    are skipped, and so are files that do not parse."""
    pairs = []
    for d in documents:
        try:
            tree = ast.parse(d.text)
        except (SyntaxError, ValueError):
            continue
        lines = d.text.split("\n")
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            code = 1 if ast.get_docstring(node, clean=False) is not None else 0   # the first statement after it
            if len(node.body) <= code:
                continue
            first, answer = node.lineno - 1, node.body[code].lineno - 1         # the def line, the answer's line
            if lines[answer].strip():
                pairs.append(("\n".join(lines[first:answer]) + "\n", lines[answer] + "\n"))
    return pairs


def paragraph_second_lines(documents: Sequence[Document]) -> list[tuple[str, str]]:
    """(prompt, answer) pairs from prose: the first line of each paragraph (blank-line separated) of two
    lines or more, and its second line, each with a final newline."""
    pairs = []
    for d in documents:
        for paragraph in d.text.split("\n\n"):
            lines = [line for line in paragraph.strip("\n").split("\n")]
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                pairs.append((lines[0] + "\n", lines[1] + "\n"))
    return pairs


def task_pairs(documents: Sequence[Document]) -> tuple[str, list[tuple[str, str]]]:
    """The task for a corpus: Python source (most documents parse and give functions) gets
    ``function_first_lines``, anything else ``paragraph_second_lines``. Returns (task name, pairs)."""
    pairs = function_first_lines(documents)
    if len(pairs) >= len(documents):
        return "the first line of a function's code, from its signature (and docstring)", pairs
    return "the second line of a paragraph, from its first line", paragraph_second_lines(documents)
