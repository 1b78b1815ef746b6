#!/usr/bin/env bash
# Renders the offline demo's canned spoken replies (24 kHz mono PCM16 WAV) with espeak-ng and sox.
# Run once when a phrase changes; the WAVs are committed so the app needs neither tool at run time.
set -euo pipefail
cd "$(dirname "$0")"
render() {
  espeak-ng -v en-us+f3 -s 170 -w /tmp/phrase.wav "$2"
  sox /tmp/phrase.wav -r 24000 -c 1 -b 16 "$1.wav" pad 0 0.15
}
render hello "Hi. Hold the key and ask me to start or check a coding agent run."
render confirm "Shall I start that agent run? Say yes to confirm."
render started "Okay, I started the agent run. I will tell you when it is done."
render status "Here is the latest status of your agent run."
render list "Here are your agent runs."
render resumed "Okay, I passed that on to the agent."
render logs "Here are the latest steps of the run."
render sorry "Sorry, I did not catch that. Could you say it again?"
render error "Sorry, that did not work."
render unheard "I did not hear anything. Hold the key while you speak."
render cancelled "Okay, I will not start it."
render nothing "There is nothing waiting for a yes. Tell me what the agent should do first."
render run_done "Good news: your agent run is done."
render run_failed "Your agent run did not succeed."
render run_pull_request "Your agent run opened a pull request."
render run_update "Here is news about your agent runs."
rm -f /tmp/phrase.wav
