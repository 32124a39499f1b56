"""Run the real ``msinfuse`` entry point in-process and capture its output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from msinfuse.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    def _run(*argv: str) -> Result:
        capsys.readouterr()
        try:
            main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run
