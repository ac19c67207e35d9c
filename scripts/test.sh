#!/usr/bin/env bash
# Runs every casebridge test on this machine, from a fresh clone: unit tests,
# the Firestore store against the Firestore emulator, the functions end to end
# through the Pub/Sub emulator's push delivery, the simulators' conformance
# with the official Google client, every CRM adapter (Request Tracker against
# a real RT 5), the dead-letter and operator tools, the packaging of every
# function as the buildpack builds it, the Terraform deployment offline, and
# the sandbox demo against the CRM simulator, a real RT and the Salesforce
# and Freshdesk simulators.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/prerequisites.sh

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-ed:"; echo "$unformatted"; exit 1
fi

echo "== go test (all packages)"
mkdir -p .cache
set +e
go test -json -count=1 -timeout 25m ./... > .cache/go-test.json
status=$?
set -e
go run ./scripts/testsummary < .cache/go-test.json || status=1
if [ "$status" -ne 0 ]; then
  echo "go test failed (exit $status)"; exit "$status"
fi

echo "== terraform (offline: fmt, validate, terraform test against a mock provider)"
scripts/terraform-check.sh

echo "== sandbox demo (CRM simulator)"
go run ./scripts/sandbox --demo

echo "== sandbox demo (a real Request Tracker)"
go run ./scripts/sandbox --demo --crm rt

echo "== sandbox demo (the Salesforce simulator)"
go run ./scripts/sandbox --demo --crm salesforce

echo "== sandbox demo (the Freshdesk simulator)"
go run ./scripts/sandbox --demo --crm freshdesk
