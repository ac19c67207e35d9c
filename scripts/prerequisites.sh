#!/usr/bin/env bash
# Checks, and where it can installs, what casebridge's tests and sandbox need:
# Go, Java 17, the official Firestore and Pub/Sub emulators, and Request
# Tracker 5 (the real helpdesk the RT adapter is tested against).
set -euo pipefail

missing=0
if ! command -v go >/dev/null; then
  echo "Go is not installed: install Go 1.26 or later from https://go.dev/dl/ and put it on PATH." >&2
  missing=1
fi
if ! command -v java >/dev/null; then
  echo "Java is missing (the emulators need it); installing openjdk-17-jre-headless from Debian's packages" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "  run: sudo apt-get install openjdk-17-jre-headless" >&2
    missing=1
  fi
fi
if ! command -v gcloud >/dev/null; then
  echo "gcloud is not installed: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)," >&2
  echo "then: gcloud components install cloud-firestore-emulator pubsub-emulator" >&2
  missing=1
else
  sdk=${CLOUDSDK_ROOT_DIR:-$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)}
  for e in cloud-firestore-emulator pubsub-emulator; do
    if [ ! -d "$sdk/platform/$e" ]; then
      echo "The $e is not installed under $sdk/platform." >&2
      echo "  run: gcloud components install $e" >&2
      echo "  or, with Google's apt repository: apt-get install google-cloud-cli-${e/cloud-/}" >&2
      missing=1
    fi
  done
fi
here=$(cd "$(dirname "$0")" && pwd)
if ! "$here/rt.sh" check 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    "$here/rt.sh" install
  else
    "$here/rt.sh" check || missing=1
  fi
fi
exit "$missing"
