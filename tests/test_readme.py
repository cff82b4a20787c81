"""The README's set-up section: the two commands a newcomer runs, and what the app needs to draw Hangul."""

from __future__ import annotations

import re

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP = README.split("## 설치와 실행 · Set up", 1)[1].split("\n## ", 1)[0]


def test_the_set_up_section_has_exactly_the_app_and_the_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", SETUP, flags=re.S)
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/streamlit run app.py",
        "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && .venv/bin/python -m pytest",
    ]


def test_the_app_command_says_which_font_hangul_needs_and_who_needs_nothing():
    """Issue 14.10: on a bare Debian the app showed boxes for Hangul; the font was named for the tests only."""
    after_app = SETUP.split(".venv/bin/streamlit run app.py\n```", 1)[1].split("```bash", 1)[0]
    assert "fonts-nanum" in after_app
    assert "Windows" in after_app and "macOS" in after_app
