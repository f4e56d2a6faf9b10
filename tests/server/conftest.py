"""Fixtures of the server tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def press(client, hr_token):
    """press(button, workbook, token=HR's) -> the headless client's result: a ribbon button
    pressed on the workbook file through the real app (the answer applied to the file)."""
    headless = pytest.importorskip("addin.headless")

    def press(button, path, token=hr_token):
        poster = headless.flask_poster(client, headers={"Authorization": f"Bearer {token}"})
        return headless.run_button(button, path, post=poster)

    return press
