"""What to tell about runs and when (desktop.run_updates): pure, on a clock the test turns."""

from __future__ import annotations

from desktop.events import PullRequest, RunUpdate
from desktop.run_updates import Activity, Outcome, Policy, Report, RunNews, RunUpdates, sentence

QUIET = Activity()
PR = PullRequest("Fix the flaky login test", "https://github.com/acme/api/pull/42", "codegen-bot/fix")


def update(run_id: int, status: str, category: str, *prs: PullRequest, summary: str = "") -> RunUpdate:
    return RunUpdate(run_id, status, category, summary=summary, pull_requests=prs)


def test_a_finished_run_is_spoken_at_once_when_the_conversation_is_quiet():
    u = RunUpdates()
    news = u.observe(update(1001, "COMPLETE", "done", PR), now=10.0)
    assert news is not None and news.outcome is Outcome.DONE
    report = u.take(QUIET, now=10.0)
    assert isinstance(report, Report) and report.spoken and report.run_ids == (1001,)
    assert report.text == "Run 1001 is done and opened pull request #42, “Fix the flaky login test”."
    assert report.prompt.startswith("[Run update: done] From the app, not from the user")
    assert report.prompt.endswith("\n" + report.text) and report.final_run_ids == (1001,)
    assert u.take(QUIET, now=11.0) is None  # told once


def test_news_waits_for_every_kind_of_activity_then_for_the_settle_time():
    for busy in (Activity(key_held=True), Activity(user_speaking=True), Activity(assistant_audible=True),
                 Activity(turn_in_flight=True), Activity(tool_running=True), Activity(session_ready=False)):
        u = RunUpdates(Policy(settle_s=1.0))
        u.observe(update(7, "ERROR", "failed", summary="The tests kept failing."), now=0.0)
        assert u.take(busy, now=0.0) is None and u.take(busy, now=5.0) is None, busy
        assert u.take(QUIET, now=5.5) is None  # quiet for only half a second
        report = u.take(QUIET, now=6.0)
        assert report is not None and report.spoken and report.text == "Run 7 failed: The tests kept failing."


def test_a_turn_that_just_ended_counts_as_busy():
    u = RunUpdates(Policy(settle_s=1.0))
    u.busy(now=100.0)
    u.observe(update(3, "CANCELLED", "failed"), now=100.2)
    assert u.take(QUIET, now=100.5) is None
    report = u.take(QUIET, now=101.0)
    assert report is not None and report.text == "Run 3 was cancelled."


def test_news_waiting_together_is_one_sentence():
    u = RunUpdates()
    u.observe(update(12, "COMPLETE", "done", summary="Bumped the dependencies."), now=1.0)
    u.observe(update(11, "ERROR", "failed"), now=1.0)
    u.observe(update(13, "NOT_FOUND", "missing"), now=1.0)
    assert u.take(Activity(key_held=True), now=2.0) is None
    report = u.take(QUIET, now=5.0)
    assert report is not None and report.run_ids == (11, 12, 13)
    assert report.text == ("Run 11 failed; run 12 is done: Bumped the dependencies; "
                           "and run 13 is no longer known to CodeGen.")
    assert report.prompt.startswith("[Run update: several]")


def test_a_pull_request_is_news_once_and_the_outcome_absorbs_it():
    u = RunUpdates()
    u.seed(5)  # started in this session, without pull requests
    assert u.observe(update(5, "RUNNING", "running"), now=0.0) is None
    news = u.observe(update(5, "EVALUATION", "running", PR), now=1.0)
    assert news is not None and news.outcome is Outcome.PULL_REQUEST
    assert u.observe(update(5, "EVALUATION", "running", PR), now=2.0) is None  # the same one again
    u.observe(update(5, "COMPLETE", "done", PR), now=3.0)
    report = u.take(QUIET, now=4.0)
    assert report is not None and len(report.news) == 2 and report.run_ids == (5,)
    assert report.text == "Run 5 is done and opened pull request #42, “Fix the flaky login test”."
    assert report.prompt.startswith("[Run update: done]")


def test_a_run_that_ends_soon_after_its_pull_request_is_one_sentence():
    u = RunUpdates(Policy(settle_s=1.0, hold_s=20.0))
    u.seed(5)
    u.observe(update(5, "EVALUATION", "running", PR), now=0.0)
    assert u.take(QUIET, now=2.0) is None  # quiet, settled: the pull request waits for the run's outcome
    u.observe(update(5, "COMPLETE", "done", PR), now=3.0)
    report = u.take(QUIET, now=3.0)
    assert report is not None and report.text == "Run 5 is done and opened pull request #42, “Fix the flaky login test”."
    assert u.take(QUIET, now=60.0) is None  # and nothing more about run 5


def test_a_pull_request_told_while_the_run_went_on_is_not_told_again_with_its_outcome():
    u = RunUpdates(Policy(settle_s=1.0, hold_s=20.0))
    u.seed(6)
    u.observe(update(6, "EVALUATION", "running", PR), now=0.0)
    assert u.take(QUIET, now=19.0) is None
    told = u.take(QUIET, now=20.0)
    assert told is not None and told.text == "Run 6 opened pull request #42, “Fix the flaky login test”."
    u.observe(update(6, "COMPLETE", "done", PR, summary="Fixed the test."), now=300.0)
    report = u.take(QUIET, now=301.0)
    assert report is not None and report.text == "Run 6 is done: Fixed the test."


def test_pull_requests_a_run_had_when_first_seen_are_not_news():
    u = RunUpdates()
    assert u.observe(update(9, "RUNNING", "running", PR), now=0.0) is None
    assert u.take(QUIET, now=1.0) is None


def test_an_outcome_a_tool_already_said_is_not_told_again():
    u = RunUpdates()
    u.told(21)
    assert u.observe(update(21, "COMPLETE", "done"), now=0.0) is None
    u.observe(update(22, "COMPLETE", "done"), now=0.0)
    u.told(22)  # said while its report was waiting
    assert u.take(QUIET, now=1.0) is None


def test_old_news_is_shown_not_spoken():
    u = RunUpdates(Policy(max_age_s=60.0))
    u.observe(update(1, "COMPLETE", "done"), now=0.0)
    assert u.take(Activity(key_held=True), now=30.0) is None
    u.observe(update(2, "COMPLETE", "done"), now=50.0)
    report = u.take(Activity(key_held=True), now=61.0)
    assert report is not None and not report.spoken and report.why_not_spoken == "expired"
    assert report.run_ids == (1,)  # only the expired one; the other can still be spoken
    later = u.take(QUIET, now=70.0)
    assert later is not None and later.spoken and later.run_ids == (2,)


def test_speaking_off_shows_everything_at_once_even_while_busy():
    u = RunUpdates(Policy(speak=False))
    u.observe(update(4, "COMPLETE", "done"), now=0.0)
    report = u.take(Activity(assistant_audible=True), now=0.0)
    assert report is not None and not report.spoken and report.why_not_spoken == "off"
    assert report.text == "Run 4 is done."


def test_a_run_that_ended_while_the_app_was_closed_waits_for_the_user_to_talk():
    u = RunUpdates(Policy(max_age_s=600.0))
    u.restore(30, ["https://github.com/acme/api/pull/42"])
    news = u.observe(update(30, "COMPLETE", "done", PR), now=1000.0, last_seen=900.0)
    assert news is not None and news.earlier and news.seen_at == 900.0
    assert u.take(QUIET, now=1001.0) is None  # the app does not start talking on its own at start
    u.user_talked()
    report = u.take(QUIET, now=1010.0)
    assert report is not None and report.spoken
    assert report.text.startswith("Since your last session, run 30 is done")


def test_a_run_that_ended_long_before_the_restart_is_shown_at_once():
    u = RunUpdates(Policy(max_age_s=600.0))
    u.restore(31)
    u.observe(update(31, "ERROR", "failed"), now=5000.0, last_seen=100.0)
    report = u.take(QUIET, now=5000.0)
    assert report is not None and not report.spoken and report.why_not_spoken == "expired"


def test_a_restored_run_seen_going_first_is_ordinary_news_later():
    u = RunUpdates()
    u.restore(40)
    assert u.observe(update(40, "RUNNING", "running"), now=0.0) is None
    news = u.observe(update(40, "COMPLETE", "done"), now=5.0, last_seen=0.0)
    assert news is not None and not news.earlier


def test_sentences_name_several_pull_requests_and_plain_links():
    plain = PullRequest("Add tests", "http://127.0.0.1:9/demo/pulls/7")
    assert sentence([RunNews(7, Outcome.PULL_REQUEST, pull_requests=(plain,))]) == \
        "Run 7 opened a pull request, “Add tests”."
    assert sentence([RunNews(8, Outcome.DONE, pull_requests=(plain, PR))]) == \
        "Run 8 is done and opened 2 pull requests, the latest pull request #42, “Fix the flaky login test”."


def test_the_live_stand_in_reads_each_kind_of_news_in_its_canned_voice():
    from desktop.live.emulator import Scenario, phrase_pcm

    scenario = Scenario.load()
    kinds = {"done": [RunNews(1, Outcome.DONE)], "failed": [RunNews(1, Outcome.FAILED)],
             "cancelled": [RunNews(1, Outcome.CANCELLED)], "missing": [RunNews(1, Outcome.MISSING)],
             "pull request": [RunNews(1, Outcome.PULL_REQUEST, pull_requests=(PR,))],
             "several": [RunNews(1, Outcome.DONE), RunNews(2, Outcome.FAILED)]}
    voices = {"done": "run_done", "failed": "run_failed", "cancelled": "run_failed", "missing": "run_failed",
              "pull request": "run_pull_request", "several": "run_update"}
    for kind, news in kinds.items():
        rule = scenario.rule_for(Report(tuple(news), spoken=True).prompt)
        assert (rule.say, rule.reply, rule.tool) == (voices[kind], "{news}", None), kind
        assert len(phrase_pcm(rule.say)) > 24_000  # the rendered phrase exists (over half a second)
    assert scenario.rule_for("give me a run update on the progress").tool == "get_run_status"  # the user asking
