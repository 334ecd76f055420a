"""Tests for course_utils.download against a real HTTP server on 127.0.0.1 (no internet needed)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from course_utils.download import ChecksumError, download

CONTENT = b"Once upon a time there was a tiny language model.\n" * 100
SHA = hashlib.sha256(CONTENT).hexdigest()
BIG = bytes(range(256)) * 6000  # ~1.5 MB: large enough to switch the progress bar on
BIG_SHA = hashlib.sha256(BIG).hexdigest()
WRONG_SHA = "0" * 64


@dataclass
class Server:
    base: str
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


def _make_handler(log: list[str]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            log.append(self.path)
            if self.path in ("/data/story.txt", "/data/"):
                self._send(CONTENT)
            elif self.path == "/data/big.bin":
                self._send(BIG)
            elif self.path == "/error":
                self.send_error(500, "Internal Server Error")
            elif self.path == "/slow":
                time.sleep(1.0)  # longer than the client's timeout in the test
                self._send(CONTENT)
            elif self.path == "/truncated":
                self.send_response(200)
                self.send_header("Content-Length", str(len(CONTENT)))
                self.end_headers()
                self.wfile.write(CONTENT[:100])  # then the connection closes early
            else:
                self.send_error(404, "Not Found")

        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    log: list[str] = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(log))
    httpd.daemon_threads = True  # the /slow handler must not hold up shutdown
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield Server(base=f"http://{host}:{port}", requests=log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own settings must not leak into the tests.
    monkeypatch.delenv("LLM_MECHANICS_OFFLINE", raising=False)
    monkeypatch.delenv("LLM_MECHANICS_CACHE", raising=False)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def _leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- success and cache ----------------------------------------------------------------------------


def test_downloads_verifies_and_caches(server: Server, tmp_path, capsys) -> None:
    path = download(server.url("/data/story.txt"), SHA, cache_dir=tmp_path)
    assert path == tmp_path / "story.txt"
    assert path.read_bytes() == CONTENT
    assert server.requests == ["/data/story.txt"]
    assert _leftovers(tmp_path) == ["story.txt"]  # no temp file left behind

    again = download(server.url("/data/story.txt"), SHA, cache_dir=tmp_path)
    assert again == path
    assert server.requests == ["/data/story.txt"]  # cache hit: the server was not asked again
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_uppercase_checksum_and_explicit_filename(server: Server, tmp_path) -> None:
    path = download(server.url("/data/story.txt"), SHA.upper(), filename="renamed.txt", cache_dir=tmp_path)
    assert path == tmp_path / "renamed.txt"
    assert path.read_bytes() == CONTENT


def test_cache_dir_from_env_var(server: Server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LLM_MECHANICS_CACHE", str(tmp_path / "from-env"))
    path = download(server.url("/data/story.txt"), SHA)
    assert path == tmp_path / "from-env" / "story.txt"
    assert path.read_bytes() == CONTENT


def test_large_file_with_progress_bar(server: Server, tmp_path) -> None:
    path = download(server.url("/data/big.bin"), BIG_SHA, cache_dir=tmp_path)
    assert path is not None and path.read_bytes() == BIG


def test_corrupted_cache_is_redownloaded(server: Server, tmp_path) -> None:
    (tmp_path / "story.txt").write_bytes(b"half a file")
    path = download(server.url("/data/story.txt"), SHA, cache_dir=tmp_path)
    assert path is not None and path.read_bytes() == CONTENT
    assert server.requests == ["/data/story.txt"]


# --- wrong checksum -------------------------------------------------------------------------------


def test_wrong_checksum_raises_and_leaves_nothing(server: Server, tmp_path) -> None:
    url = server.url("/data/story.txt")
    with pytest.raises(ChecksumError) as info:
        download(url, WRONG_SHA, cache_dir=tmp_path)
    message = str(info.value)
    assert url in message and WRONG_SHA in message and SHA in message
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "story.txt").exists()
    assert _leftovers(tmp_path) == []  # no .part file either


def test_wrong_checksum_does_not_replace_a_cached_file(server: Server, tmp_path) -> None:
    (tmp_path / "story.txt").write_bytes(b"something else")
    with pytest.raises(ChecksumError):
        download(server.url("/data/story.txt"), WRONG_SHA, cache_dir=tmp_path)
    assert (tmp_path / "story.txt").read_bytes() == b"something else"
    assert _leftovers(tmp_path) == ["story.txt"]


# --- server errors and being offline --------------------------------------------------------------


@pytest.mark.parametrize(("path", "code"), [("/error", "500"), ("/nope.txt", "404")])
def test_http_error_returns_none_with_one_line(server: Server, tmp_path, capsys, path, code) -> None:
    url = server.url(path)
    assert download(url, SHA, filename="x.txt", cache_dir=tmp_path) is None
    line = _one_line(capsys)
    assert url in line and code in line
    assert _leftovers(tmp_path) == []


def test_no_server_returns_none_with_one_line(tmp_path, capsys) -> None:
    # Reserve a free port, then close it: connecting to it is refused, like being offline.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data/story.txt"
    assert download(url, SHA, cache_dir=tmp_path, timeout=2) is None
    line = _one_line(capsys)
    assert url in line and "offline or server unreachable" in line
    assert _leftovers(tmp_path) == []


def test_timeout_returns_none_with_one_line(server: Server, tmp_path, capsys) -> None:
    assert download(server.url("/slow"), SHA, filename="slow.txt", cache_dir=tmp_path, timeout=0.2) is None
    assert "timed out" in _one_line(capsys)
    assert _leftovers(tmp_path) == []


def test_truncated_body_is_a_network_failure_not_a_checksum_error(server: Server, tmp_path, capsys) -> None:
    assert download(server.url("/truncated"), SHA, filename="t.txt", cache_dir=tmp_path) is None
    assert "100 of" in _one_line(capsys)
    assert _leftovers(tmp_path) == []


def test_quiet_prints_nothing(server: Server, tmp_path, capsys) -> None:
    assert download(server.url("/error"), SHA, filename="x.txt", cache_dir=tmp_path, quiet=True) is None
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


# --- LLM_MECHANICS_OFFLINE ------------------------------------------------------------------------


def test_offline_env_makes_no_request(server: Server, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("LLM_MECHANICS_OFFLINE", "1")
    url = server.url("/data/story.txt")
    assert download(url, SHA, cache_dir=tmp_path) is None
    assert server.requests == []
    line = _one_line(capsys)
    assert url in line and "LLM_MECHANICS_OFFLINE" in line


def test_offline_env_still_returns_valid_cache(server: Server, tmp_path, monkeypatch) -> None:
    (tmp_path / "story.txt").write_bytes(CONTENT)
    monkeypatch.setenv("LLM_MECHANICS_OFFLINE", "1")
    assert download(server.url("/data/story.txt"), SHA, cache_dir=tmp_path) == tmp_path / "story.txt"
    assert server.requests == []


# --- bad arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "sha", "kwargs", "match"),
    [
        ("ftp://example.org/story.txt", SHA, {}, "http"),
        ("example.org/story.txt", SHA, {}, "http"),
        ("http://127.0.0.1/story.txt", "abc123", {}, "64"),
        ("http://127.0.0.1/story.txt", "g" * 64, {}, "64"),
        ("http://127.0.0.1/data/", SHA, {}, "filename"),
        ("http://127.0.0.1/story.txt", SHA, {"filename": ""}, "filename"),
        ("http://127.0.0.1/story.txt", SHA, {"filename": "../escape.txt"}, "filename"),
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, url, sha, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        download(url, sha, cache_dir=tmp_path, **kwargs)
    assert _leftovers(tmp_path) == []
