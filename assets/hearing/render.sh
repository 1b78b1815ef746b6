#!/usr/bin/env bash
# Renders the phrases the local Live emulator can recognise (16 kHz mono PCM16 WAV), each in two synthetic
# voices and speeds, with espeak-ng and sox, and lists them in phrases.json (file -> text).  Run once when a
# phrase changes; the WAVs are committed so the app needs neither tool at run time.
set -euo pipefail
cd "$(dirname "$0")"
rm -f ./*.wav
entries=()
render() {  # name text
  local n=0
  for voice in "en-us+m3 155" "en-us+f2 180"; do
    set -- "$1" "$2" $voice
    espeak-ng -v "$3" -s "$4" -w /tmp/hearing.wav "$2"
    sox /tmp/hearing.wav -r 16000 -c 1 -b 16 "$1-$n.wav" pad 0.2 0.2
    entries+=("\"$1-$n.wav\": \"$2\"")
    n=$((n + 1))
  done
}
render create_pr "Create a pull request that fixes the flaky login test in the api repository"
render status "What is the status of my last task"
render list_runs "List my running agent tasks"
render resume "Tell the agent to also add a unit test for the password reset flow"
render logs "What is it doing"
render hello "Hello"
render yes "Yes"
render yes_please "Yes please"
render go_ahead "Go ahead"
render no "No"
render no_thanks "No thanks"
render cancel "Cancel"
rm -f /tmp/hearing.wav
( IFS=,; printf '{%s}\n' "${entries[*]}" ) | python3 -m json.tool > phrases.json
