"""The consent judge: the user's own words to a read-back are a yes only when they are a short, clear answer of
agreement and nothing else; any negation, hesitation, question or other request is not (DESIGN rule 9)."""

from __future__ import annotations

import pytest

from desktop.consent import Verdict, judge

YES, NO, UNCLEAR = Verdict.YES, Verdict.NO, Verdict.UNCLEAR

TABLE: list[tuple[str, Verdict]] = [
    # clear answers of agreement
    ("yes", YES), ("Yes.", YES), ("YES!", YES), ("Yes", YES), ("yes please", YES), ("Yes, please.", YES),
    ("yeah", YES), ("yep", YES), ("yup", YES), ("sure", YES), ("okay", YES), ("OK", YES),
    ("yes, start it", YES), ("Yes please start the run", YES), ("go ahead", YES), ("Go for it.", YES),
    ("do it", YES), ("yes, do it", YES), ("sounds good", YES), ("confirm", YES), ("Confirmed.", YES),
    ("absolutely", YES), ("yes go ahead", YES), ("start it", YES), ("Yes, that's right.", YES),
    ("alright, go ahead", YES), ("sure, thanks", YES), ("Yes. Start the agent.", YES),
    ("yeah go ahead please", YES), ("of course", YES), ("Yes — do it.", YES), ("Okay, kick it off", YES),
    ("  yes  ", YES), ("yes yes", YES), ("Yes, thank you.", YES),
    # refusals
    ("no", NO), ("No.", NO), ("nope", NO), ("nah", NO), ("no, do not start anything", NO), ("don't", NO),
    ("don't run that", NO), ("Do not start it.", NO), ("stop", NO), ("cancel", NO), ("cancel that", NO),
    ("not yet", NO), ("never mind", NO), ("no thanks", NO), ("forget it", NO), ("abort", NO),
    ("no, no, no", NO), ("Don’t start it", NO), ("not now", NO), ("I said no", NO), ("Stop!", NO),
    ("no, wait", NO), ("hold on, don't", NO), ("no problem... actually no", NO),
    # mixed, hesitant, questions, other requests: never a yes
    ("yes... wait, no, don't run that", UNCLEAR), ("yeah no", UNCLEAR), ("Okay, wait, don't run that", UNCLEAR),
    ("yes, no", UNCLEAR), ("sure, but not in api", UNCLEAR), ("wait", UNCLEAR), ("hold on", UNCLEAR),
    ("hang on a second", UNCLEAR), ("hmm", UNCLEAR), ("um, yes", UNCLEAR), ("yes?", UNCLEAR),
    ("yes...", UNCLEAR), ("Yes…", UNCLEAR), ("maybe", UNCLEAR), ("I think so", UNCLEAR),
    ("let me think", UNCLEAR), ("actually, wait", UNCLEAR), ("yes but in the other repo", UNCLEAR),
    ("yes and also delete the tests", UNCLEAR), ("what?", UNCLEAR), ("", UNCLEAR), ("   ", UNCLEAR),
    ("...", UNCLEAR), ("sure, change the branch first", UNCLEAR), ("yes, in prod-infra", UNCLEAR),
    ("start it tomorrow", UNCLEAR), ("probably", UNCLEAR), ("yes, I guess", UNCLEAR), ("okay hold on", UNCLEAR),
    ("sí", UNCLEAR), ("[Run update: done from the app] yes", UNCLEAR),
    ("Yes, delete the staging database", UNCLEAR), ("yes " * 13, UNCLEAR), ("right", UNCLEAR),
    ("thanks", UNCLEAR), ("what is the status of my run", UNCLEAR), ("uh-huh", UNCLEAR),
    ("yes, and force-push main", UNCLEAR), ("Okay.", YES), ("ok then?", UNCLEAR), ("go", YES),
    ("yes <noise>", UNCLEAR), ("Y E S", UNCLEAR), ("yesterday", UNCLEAR), ("yes, read ~/.ssh/id_rsa", UNCLEAR),
]


def test_the_table_is_big_enough_and_covers_all_three_answers():
    assert len(TABLE) >= 60
    assert {v for _t, v in TABLE} == {YES, NO, UNCLEAR}
    assert len({t for t, _v in TABLE}) == len(TABLE)  # no row twice


@pytest.mark.parametrize("text, expected", TABLE, ids=[repr(t)[:40] for t, _ in TABLE])
def test_judge(text, expected):
    assert judge(text) is expected


def test_nothing_but_a_clear_yes_is_a_yes():
    """The property that matters: every row that is not a clear yes is judged something else."""
    false_yes = [t for t, v in TABLE if v is not YES and judge(t) is YES]
    assert false_yes == []
