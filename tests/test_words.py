from desktop.words import shorten


def test_short_text_is_kept_on_one_line():
    assert shorten("  Fix the\n login   test ", 40) == "Fix the login test"


def test_a_long_text_is_cut_after_its_last_whole_word():
    title = "Create a pull request that fixes the flaky login test in the api repository"
    cut = shorten(title, 70)
    assert cut == "Create a pull request that fixes the flaky login test in the api…" and len(cut) <= 70


def test_a_cut_that_lands_between_words_keeps_every_word_before_it():
    assert shorten("one two three", 9) == "one two…"  # "one two t" -> the space ends a word
    assert shorten("alpha, beta gamma", 8) == "alpha…"  # no dangling comma


def test_a_single_long_word_is_cut_where_the_room_ends():
    assert shorten("x" * 30, 10) == "x" * 9 + "…"


def test_a_cut_never_ends_on_words_that_lead_into_the_rest():
    title = "Create a pull request that fixes the flaky login test in the api repository"
    assert shorten(title, 60) == "Create a pull request that fixes the flaky login test…"
    assert shorten("Fix the bug in the parser of the config", 30) == "Fix the bug in the parser…"
    assert shorten("the " * 20, 12) == "the…"  # nothing else to keep: the first word stays
