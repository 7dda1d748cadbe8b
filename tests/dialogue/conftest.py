"""Fixtures shared by the dialogue flow tests: a scripted NLU and an engine over a fresh store."""

import pytest

from tests.dialogue.dialogue_kit import ScriptedNlu, make_engine


@pytest.fixture
def scripted() -> ScriptedNlu:
    return ScriptedNlu()


@pytest.fixture
def engine(tmp_path, scripted):
    return make_engine(tmp_path, scripted)
