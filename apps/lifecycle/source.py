"""A deployment's source tree as the build and the start-up rules see it: the
list of files and a way to read a few small ones. Made from the deployment's
zip (zip deploy, and git push through `git archive --format=zip`)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# Files the rules read are small text files; don't read anything bigger.
MAX_READ = 256 * 1024


@dataclass
class SourceTree:
    files: frozenset[str]
    contents: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_files(cls, files: dict[str, str]) -> SourceTree:
        """For tests: {path: content}."""
        return cls(frozenset(files), dict(files))

    @classmethod
    def from_zip(cls, path: Path | str) -> SourceTree:
        with zipfile.ZipFile(path) as zf:
            files = {}
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = normalize(info.filename)
                files[name] = info
            contents = {}
            for name, info in files.items():
                if _worth_reading(name) and info.file_size <= MAX_READ:
                    contents[name] = zf.read(info).decode("utf-8", "replace")
        return cls(frozenset(files), contents)

    def has(self, path: str) -> bool:
        return path in self.files

    def read(self, path: str) -> str:
        return self.contents.get(path, "")

    def top_level(self) -> list[str]:
        return sorted(f for f in self.files if "/" not in f)

    def is_venv_dir(self, folder: str) -> bool:
        return f"{folder}/pyvenv.cfg" in self.files


def normalize(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _worth_reading(name: str) -> bool:
    # Top-level files (requirements.txt, app.py, a startup file) and wsgi.py
    # files a few levels down.
    return name.count("/") == 0 or name.endswith("/wsgi.py")
