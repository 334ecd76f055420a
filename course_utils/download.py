"""Fetch a file by URL into a local cache, verified by its SHA-256, with a clean offline fallback.

The course runs offline on a laptop, so every download is optional: a notebook asks for a file,
and if the network is not there it gets ``None`` back plus one readable line, and falls back to
something it ships with. What must never happen is a half-written or wrong file sitting in the
cache and being trusted next time, so:

- every file is pinned by its SHA-256 and checked on every use, cached or fresh;
- the download goes to a temporary file in the cache directory and is only renamed into place
  (``os.replace``, atomic on one file system) once the checksum matches;
- a checksum mismatch is an error (:class:`ChecksumError`), because it means the file or the pin
  is wrong, which retrying or "continuing without it" would only hide.

Example::

    from course_utils.download import download

    path = download("https://example.org/data/tiny.txt", "<64 hex digits>")
    if path is None:
        ...  # offline: use the bundled copy instead

Environment variables:

- ``LLM_MECHANICS_CACHE``: the cache directory (default ``~/.cache/llm-mechanics``).
- ``LLM_MECHANICS_OFFLINE=1``: never touch the network; only a valid cached file is returned.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import string
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["ChecksumError", "download"]

CACHE_ENV = "LLM_MECHANICS_CACHE"
OFFLINE_ENV = "LLM_MECHANICS_OFFLINE"
DEFAULT_CACHE_DIR = pathlib.Path("~/.cache/llm-mechanics")

_CHUNK = 1 << 16  # 64 KiB: small enough for steady progress, large enough to be fast
_PROGRESS_MIN_BYTES = 1 << 20  # below 1 MB a progress bar is just noise


class ChecksumError(ValueError):
    """The downloaded bytes do not have the pinned SHA-256 (corrupt file or wrong pin)."""


class _FetchFailed(Exception):
    """Internal: the network or the server let us down; carries a short human-readable reason."""


def download(
    url: str,
    sha256: str,
    *,
    filename: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
    quiet: bool = False,
) -> pathlib.Path | None:
    """Return the path of a verified local copy of ``url``, downloading it if needed.

    Args:
        url: an ``http://`` or ``https://`` URL.
        sha256: the expected SHA-256 of the file, as 64 hex digits.
        filename: the name in the cache directory; defaults to the last component of the URL path.
        cache_dir: where to keep the file; defaults to ``$LLM_MECHANICS_CACHE``, else
            ``~/.cache/llm-mechanics``.
        timeout: seconds to wait for the server (per connection attempt and per read).
        quiet: if true, print nothing (no offline message, no progress bar).

    Returns:
        The path of the file, or ``None`` if it could not be fetched (offline, server
        unreachable, HTTP error, or ``LLM_MECHANICS_OFFLINE=1`` with nothing cached). In that
        case one line saying so has been printed to stderr, unless ``quiet``.

    Raises:
        ValueError: a malformed ``url``, ``sha256`` or ``filename``.
        ChecksumError: the server sent a file whose SHA-256 is not ``sha256``.
    """
    # Check the arguments first, so a typo fails loudly even when offline.
    _check_url(url)
    expected = _check_sha256(sha256)
    name = _check_filename(filename if filename is not None else _filename_from_url(url))

    directory = _resolve_cache_dir(cache_dir)
    target = directory / name

    # A cached copy is only trusted if its hash still matches: that catches an interrupted copy
    # from an older tool, a file edited by hand, or a changed pin.
    if target.is_file() and _sha256_of_file(target) == expected:
        return target

    if os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        _say(quiet, f"download: not fetching {url} ({OFFLINE_ENV} is set and no valid cached copy); "
                    "continuing without it.")
        return None

    directory.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_verified(url, expected, target, timeout=timeout, quiet=quiet)
    except _FetchFailed as failure:
        _say(quiet, f"download: could not fetch {url} ({failure}); continuing without it.")
        return None
    return target


# --- argument checks ------------------------------------------------------------------------------


def _check_url(url: str) -> None:
    if not isinstance(url, str):
        raise ValueError(f"url must be a string starting with http:// or https://, got {url!r}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"url must start with http:// or https:// and name a host, got {url!r}")


def _check_sha256(sha256: str) -> str:
    if (
        not isinstance(sha256, str)
        or len(sha256) != 64
        or any(c not in string.hexdigits for c in sha256)
    ):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    return sha256.lower()  # hashlib's hexdigest() is lowercase


def _filename_from_url(url: str) -> str:
    path = urllib.parse.urlsplit(url).path
    return urllib.parse.unquote(path.rsplit("/", 1)[-1])


def _check_filename(name: str) -> str:
    # The name becomes a path inside the cache directory, so it must be a plain file name:
    # "a/b" or ".." could write outside the cache.
    if not name:
        raise ValueError("filename is empty (the URL path ends in '/'?); pass filename='...'")
    if name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"filename must be a plain file name without directories, got {name!r}")
    return name


def _resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> pathlib.Path:
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return pathlib.Path(cache_dir).expanduser()


# --- hashing and fetching -------------------------------------------------------------------------


def _sha256_of_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_verified(url: str, expected: str, target: pathlib.Path, *, timeout: float, quiet: bool) -> None:
    """Stream ``url`` into a temp file next to ``target``; rename it into place only if it verifies.

    Network and HTTP problems become :class:`_FetchFailed`; anything else (a full disk, a
    permission error, a :class:`ChecksumError`) propagates, because it is not "being offline".
    Whatever happens, the temp file does not survive a failure.
    """
    # Same directory as the target, so the final os.replace is a rename, never a copy.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = pathlib.Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _stream(url, out, timeout=timeout, quiet=quiet)
        if actual != expected:
            raise ChecksumError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual} "
                "(the file is corrupt or the pinned checksum is wrong)"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # also on KeyboardInterrupt: no stray .part files
        raise


def _stream(url: str, out, *, timeout: float, quiet: bool) -> str:
    """Copy the response body to ``out`` and return its SHA-256, hashing while writing."""
    digest = hashlib.sha256()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "llm-mechanics-course"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = _content_length(response)
            with _progress(length, quiet) as bar:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:  # before URLError: HTTPError is a subclass of it
        raise _FetchFailed(f"server answered HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:  # DNS failure, connection refused, TLS problems, ...
        raise _FetchFailed(f"offline or server unreachable: {e.reason}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as e:  # during the body
        raise _FetchFailed(f"offline or server unreachable: {e or type(e).__name__}") from None
    # http.client quietly returns b"" when a connection drops early, so check the length ourselves;
    # otherwise a cut-off download would be reported as a checksum error.
    if length is not None and received != length:
        raise _FetchFailed(f"connection closed after {received} of {length} bytes")
    return digest.hexdigest()


def _content_length(response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (TypeError, ValueError):  # header missing or garbled
        return None


class _NoProgress:
    """Stands in for a tqdm bar when none is wanted, so the copy loop has one shape."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress(total: int | None, quiet: bool):
    if quiet or total is None or total <= _PROGRESS_MIN_BYTES:
        return _NoProgress()
    try:
        from tqdm.auto import tqdm  # imported lazily: optional, and slow-ish to import
    except ImportError:
        return _NoProgress()
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="download", leave=False)


def _say(quiet: bool, line: str) -> None:
    # stderr, like tqdm and warnings: it is a notice about the run, not the notebook's output.
    if not quiet:
        print(line, file=sys.stderr, flush=True)
