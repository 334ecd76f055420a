"""The capstone's corpora: the standard library (default), a book over HTTP (a server on 127.0.0.1), your own
text (temporary files); curation, the split by document, the token stream and the task pairs."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from course_utils import corpus
from course_utils.bpe import BPETokenizer
from course_utils.corpus import Document

BOOK = ("FIRST CITIZEN:\nBefore we proceed any further, hear me speak.\n\nALL:\nSpeak, speak.\n\n" * 400).encode()
BOOK_SHA = hashlib.sha256(BOOK).hexdigest()


# ------------------------------------------------------------------------------------------------ sources

def _fake_stdlib(root: Path) -> Path:
    """A folder shaped like a standard library: modules, a package, tests and installed packages."""
    files = {
        "os.py": "import sys\n" * 50, "json/__init__.py": '"""JSON."""\n' * 40, "json/decoder.py": "x = 1\n" * 90,
        "test/test_os.py": "assert True\n" * 30, "json/tests/test_json.py": "pass\n" * 30,
        "site-packages/numpy/core.py": "big = 1\n" * 30, "huge.py": "# " + "x" * 5000 + "\n",
        "latin1.py": None,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.write_bytes("s = 'caf\xe9'\n".encode("latin-1"))   # not UTF-8: skipped
        else:
            path.write_text(text)
    return root


def test_stdlib_documents_skip_tests_packages_big_and_undecodable_files(tmp_path):
    docs = corpus.stdlib_documents(max_chars=10_000, max_file_chars=4_000, root=_fake_stdlib(tmp_path))
    assert sorted(d.name for d in docs) == ["json/__init__.py", "json/decoder.py", "os.py"]
    assert all(d.text == (tmp_path / d.name).read_text() for d in docs)


def test_stdlib_documents_are_a_fixed_sample_and_a_larger_cap_gives_a_superset(tmp_path):
    root = _fake_stdlib(tmp_path)
    small = corpus.stdlib_documents(max_chars=900, max_file_chars=4_000, root=root)
    large = corpus.stdlib_documents(max_chars=10_000, max_file_chars=4_000, root=root)
    assert small == corpus.stdlib_documents(max_chars=900, max_file_chars=4_000, root=root)
    assert sum(map(len, small)) <= 900 and set(small) < set(large)
    assert large[:len(small)] == small


def test_the_real_standard_library_is_read_at_run_time():
    docs = corpus.stdlib_documents(max_chars=300_000)
    assert len(docs) > 5 and 200_000 <= sum(map(len, docs)) <= 300_000   # stops before a file that would pass it
    assert not any(part in {"test", "tests", "site-packages"} for d in docs for part in d.name.split("/")[:-1])
    assert all((corpus.stdlib_root() / d.name).read_text(encoding="utf-8") == d.text for d in docs)


def test_cut_into_pieces_at_blank_lines_and_back():
    text = "".join(f"paragraph {i}\nline two\n\n" for i in range(100))
    pieces = corpus.cut_into_pieces(text, "book.txt", piece_chars=200)
    assert "".join(p.text for p in pieces) == text
    assert all(p.text.endswith("\n\n") for p in pieces[:-1]) and len(pieces) > 5
    assert pieces[0].name == "book.txt#01" and len({p.name for p in pieces}) == len(pieces)
    assert [d.text for d in corpus.cut_into_pieces("no blank lines at all", "x", 5)] == ["no blank lines at all"]


def test_own_text_file_is_cut_into_pieces(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("My notes.\nMore notes.\n\n" * 2000, encoding="utf-8")
    docs, description = corpus.load_corpus("own", path, piece_chars=5_000)
    assert len(docs) > 5 and "".join(d.text for d in docs) == path.read_text()
    assert "notes.txt" in description and docs[0].name.startswith("notes.txt#")


def test_own_text_folder_gives_one_document_per_text_file(tmp_path):
    (tmp_path / "a.txt").write_text("alpha " * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("beta " * 100)
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\x00\x00")     # not a text suffix: ignored
    docs, _ = corpus.load_corpus("own", tmp_path)
    assert [d.name for d in docs] == ["a.txt", "sub/b.md"]


def test_own_text_capped_by_max_chars(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("A paragraph of a few words.\n\n" * 10_000)
    docs, _ = corpus.load_corpus("own", path, max_chars=50_000, piece_chars=10_000)
    assert sum(map(len, docs)) <= 50_000


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"), (b"   \n\n", "is empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    ("caf\xe9 au lait".encode("latin-1"), "not valid UTF-8"),
])
def test_bad_own_text_fails_clearly(tmp_path, content, message):
    path = tmp_path / "mine.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        corpus.load_corpus("own", path)


def test_bad_settings_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="one of"):
        corpus.load_corpus("wikipedia")
    with pytest.raises(ValueError, match="needs the path"):
        corpus.load_corpus("own")
    with pytest.raises(ValueError, match="no file or folder"):
        corpus.load_corpus("own", tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="no text files"):
        corpus.load_corpus("own", tmp_path)
    with pytest.raises(ValueError, match="max_chars"):
        corpus.load_corpus("stdlib", max_chars=0)
    with pytest.raises(ValueError, match=r">= 256 \+ 1"):
        BPETokenizer.train("some text", vocab_size=256)


# ------------------------------------------------------------------------------------------------ the book

@pytest.fixture
def book_server():
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            if self.path == "/book.txt":
                self.send_response(200)
                self.send_header("Content-Length", str(len(BOOK)))
                self.end_headers()
                self.wfile.write(BOOK)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_book_is_downloaded_once_checked_cached_and_cut(book_server, tmp_path, monkeypatch):
    monkeypatch.delenv("LLM_MECHANICS_OFFLINE", raising=False)
    base, requests = book_server
    kwargs = dict(book_url=f"{base}/book.txt", book_sha256=BOOK_SHA, cache_dir=tmp_path, piece_chars=5_000)
    docs, description = corpus.load_corpus("book", **kwargs)
    assert "".join(d.text for d in docs) == BOOK.decode() and len(docs) > 3
    assert description == "a book: book.txt" and docs[0].name.startswith("book.txt#")
    again, _ = corpus.load_corpus("book", **kwargs)
    assert again == docs and requests == ["/book.txt"]          # the second time from the cache


def test_book_offline_falls_back_to_the_standard_library_in_one_line(book_server, tmp_path, monkeypatch,
                                                                     capsys):
    base, requests = book_server
    monkeypatch.setenv("LLM_MECHANICS_OFFLINE", "1")
    docs, description = corpus.load_corpus("book", book_url=f"{base}/book.txt", book_sha256=BOOK_SHA,
                                           cache_dir=tmp_path, max_chars=100_000)
    assert requests == [] and "standard library" in description
    assert docs == corpus.stdlib_documents(100_000)
    out = capsys.readouterr()
    assert out.out.strip() == "The book is not available offline; using the Python standard library instead."
    assert len(out.err.strip().splitlines()) == 1                 # download's own line


def test_book_unreachable_server_falls_back_too(book_server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LLM_MECHANICS_OFFLINE", raising=False)
    base, _ = book_server
    docs, description = corpus.load_corpus("book", book_url=f"{base}/missing.txt", book_sha256=BOOK_SHA,
                                           cache_dir=tmp_path, max_chars=50_000)
    assert "standard library" in description and docs
    assert "not available offline" in capsys.readouterr().out


def test_default_book_is_the_shakespeare_file_notebook_05_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_MECHANICS_OFFLINE", "1")
    (tmp_path / "tinyshakespeare.txt").write_bytes(BOOK)      # a cached copy with the wrong hash is not trusted
    assert corpus.book_documents(cache_dir=tmp_path, quiet=True) is None
    assert corpus.BOOK_URL.endswith("tinyshakespeare/input.txt")


# ------------------------------------------------------------------------------------------------ curation

def _docs():
    base = "import os\n\ndef main():\n    return os.getcwd()\n" * 20
    return [Document("a.py", base), Document("b.py", base), Document("c.py", base + "x = 1\n"),
            Document("d.py", "# author: ada@example.com, call 555-123-4567\n" + "y = 2\n" * 60),
            Document("empty.py", ""), Document("e.py", "".join(f"v{i} = {i * i}\n" for i in range(200)))]


def test_curate_removes_short_exact_and_near_duplicates_and_scrubs_pii():
    kept, report = corpus.curate(_docs())
    assert [d.name for d in kept] == ["a.py", "d.py", "e.py"]
    assert report["too_short"] == ["empty.py"] and report["exact_duplicates"] == ["b.py"]
    assert [(k, d) for k, d, _ in report["near_duplicates"]] == [("a.py", "c.py")]
    assert report["pii"] == {"EMAIL": 1, "PHONE": 1} and report["pii_documents"] == ["d.py"]
    assert "<EMAIL>" in kept[1].text and "ada@" not in kept[1].text
    assert report["documents"] == 6 and report["kept"] == 3
    assert report["kept_characters"] == sum(map(len, kept))


def test_curate_refuses_an_empty_corpus():
    with pytest.raises(ValueError, match="empty"):
        corpus.curate([])
    with pytest.raises(ValueError, match="removed every document"):
        corpus.curate([Document("a", "tiny"), Document("b", "")])
    with pytest.raises(ValueError, match="near_threshold"):
        corpus.curate(_docs(), near_threshold=0)


# ------------------------------------------------------------------------------------------------ the split

def test_split_by_document_follows_the_hash_of_the_name():
    docs = [Document(f"module_{i}.py", "x") for i in range(200)]
    train, val = corpus.split_by_document(docs, 0.2)
    assert [d.name for d in val] == [d.name for d in docs if corpus.split_fraction(d.name) < 0.2]
    assert not set(train) & set(val) and len(train) + len(val) == 200 and 25 < len(val) < 55
    assert train == [d for d in docs if d not in val]         # input order kept
    assert corpus.split_fraction("a.py") == int(hashlib.sha256(b"a.py").hexdigest()[:8], 16) / 16 ** 8


def test_split_is_stable_when_documents_come_and_go():
    docs = [Document(f"f{i}.txt", "x") for i in range(50)]
    _, val = corpus.split_by_document(docs, 0.3)
    _, val_more = corpus.split_by_document(docs + [Document(f"g{i}.txt", "x") for i in range(50)], 0.3)
    assert set(val) <= set(val_more)


def test_split_never_leaves_validation_empty_and_refuses_one_document():
    docs = [Document(n, "x") for n in ("a", "b", "c")]
    train, val = corpus.split_by_document(docs, 0.01)
    assert len(val) == 1 and len(train) == 2
    with pytest.raises(ValueError, match="at least 2"):
        corpus.split_by_document(docs[:1])
    with pytest.raises(ValueError, match="unique"):
        corpus.split_by_document([docs[0], docs[0]])
    with pytest.raises(ValueError, match="val_fraction"):
        corpus.split_by_document(docs, 1.0)


# ------------------------------------------------------------------------------------------------ statistics and tokens

def test_char_stats():
    stats = corpus.char_stats([Document("a", "ab a\n"), Document("b", "é1")])
    assert stats["characters"] == 7 and stats["bytes"] == 8 and stats["documents"] == 2 and stats["lines"] == 1
    assert stats["whitespace"] == pytest.approx(2 / 7) and stats["non_ascii"] == pytest.approx(1 / 7)
    assert stats["top"][0] == ("a", pytest.approx(2 / 7)) and stats["lengths"] == [5, 2]
    with pytest.raises(ValueError, match="empty"):
        corpus.char_stats([Document("a", "")])


def test_encode_documents_puts_the_separator_before_each_document():
    text = "def f():\n    return 1\n" * 30
    tok = BPETokenizer.train(text, 265)
    docs = [Document("a", "def f():\n"), Document("b", "fake <|endoftext|> inside")]
    ids = corpus.encode_documents(tok, docs).tolist()
    eot = tok.special_tokens["<|endoftext|>"]
    assert ids[0] == eot and ids.count(eot) == 2                  # the text's own "<|endoftext|>" is not one
    assert tok.decode(ids) == "<|endoftext|>def f():\n<|endoftext|>fake <|endoftext|> inside"


# ------------------------------------------------------------------------------------------------ the task

SOURCE = '''
def add(a, b):
    """Add two numbers."""
    return a + b


class Box:
    def size(self):
        """How big.

        Very."""
        # a comment
        if self.empty:
            return 0
        return self.n

    def nodoc(self):
        return 1

    def only_doc(self):
        """Nothing after me."""
'''


def test_function_first_lines_from_python_source():
    pairs = corpus.function_first_lines([Document("m.py", SOURCE), Document("bad.py", "def (:")])
    assert pairs == [
        ('def add(a, b):\n    """Add two numbers."""\n', "    return a + b\n"),
        ('    def size(self):\n        """How big.\n\n        Very."""\n        # a comment\n', "        if self.empty:\n"),
        ("    def nodoc(self):\n", "        return 1\n"),
    ]


def test_task_pairs_picks_the_task_that_fits_the_text():
    name, pairs = corpus.task_pairs([Document("m.py", SOURCE)])
    assert "function" in name and len(pairs) == 3
    prose = [Document("p", "ROMEO:\nBut soft, what light.\n\nJULIET:\nAy me.\n\nalone\n")]
    name, pairs = corpus.task_pairs(prose)
    assert "paragraph" in name
    assert pairs == [("ROMEO:\n", "But soft, what light.\n"), ("JULIET:\n", "Ay me.\n")]
