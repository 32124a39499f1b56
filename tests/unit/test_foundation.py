"""The project's foundations: error tree, settings, logging privacy, layering, generated docs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

from msinfuse import docsgen, errors
from msinfuse.config import Settings
from msinfuse.logs import RedactingFilter, redact

ROOT = Path(__file__).resolve().parents[2]


class TestErrorTree:
    def test_user_errors_and_internal_errors_share_one_base(self):
        for cls in (
            errors.NotFound,
            errors.Conflict,
            errors.InvalidInput,
            errors.KnowledgeBaseError,
            errors.SchedulingInfeasible,
            errors.PermissionDenied,
        ):
            assert issubclass(cls, errors.UserError)
            assert issubclass(cls, errors.MsinfuseError)
        assert issubclass(errors.InternalError, errors.MsinfuseError)
        assert not issubclass(errors.InternalError, errors.UserError)

    def test_the_tree_is_drawn_in_the_module_docstring(self):
        assert errors.__doc__ is not None
        for name in (
            "NotFound",
            "Conflict",
            "InvalidInput",
            "KnowledgeBaseError",
            "SchedulingInfeasible",
            "InternalError",
        ):
            assert name in errors.__doc__

    def test_a_knowledge_base_error_names_file_path_and_problem(self):
        error = errors.KnowledgeBaseError("agents/x.yaml", "regimens[0].initial", "is required")
        assert str(error) == "agents/x.yaml: regimens[0].initial: is required"


class TestSettings:
    def test_settings_read_the_msinfuse_prefix(self, monkeypatch):
        monkeypatch.setenv("MSINFUSE_PROFILE", "eu")
        monkeypatch.setenv("MSINFUSE_DATABASE_URL", "postgresql+psycopg://x@localhost/db")
        settings = Settings()
        assert settings.profile == "eu"
        assert settings.effective_database_url().startswith("postgresql")

    def test_the_embedded_default_is_a_sqlite_file(self, tmp_path):
        settings = Settings(data_dir=tmp_path, database_url=None)
        assert settings.effective_database_url() == f"sqlite:///{tmp_path / 'msinfuse.sqlite3'}"

    def test_nothing_is_read_from_the_environment_at_import(self):
        code = "import os; os.environ['MSINFUSE_PROFILE']='bogus'; import msinfuse.config, msinfuse.cli.main; print('ok')"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert result.stdout.strip() == "ok", result.stderr

    def test_a_bad_value_is_rejected_when_settings_are_built(self, monkeypatch):
        monkeypatch.setenv("MSINFUSE_PROFILE", "bogus")
        with pytest.raises(ValueError, match="profile"):
            Settings()


class TestLoggingNeverPrintsPatientData:
    def test_dates_emails_and_long_numbers_are_masked(self):
        text = redact("patient 1234567 born 1980-02-03 mail jane@example.org")
        assert "1234567" not in text
        assert "1980-02-03" not in text
        assert "jane@example.org" not in text

    def test_the_filter_rewrites_formatted_records(self):
        record = logging.LogRecord(
            "msinfuse",
            logging.INFO,
            __file__,
            1,
            "check for %s on %s",
            ("MRN 99887766", "2026-01-05"),
            None,
        )
        RedactingFilter().filter(record)
        assert "99887766" not in record.getMessage()
        assert "2026-01-05" not in record.getMessage()


def test_layer_contracts_hold(monkeypatch):
    """cli|api|web -> services -> persistence -> domain; the domain stays pure."""
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert status == EXIT_STATUS_SUCCESS


def test_generated_docs_are_fresh():
    assert docsgen.main(["--check", "--out", str(ROOT / "docs")]) == 0, "run `make docs`"
