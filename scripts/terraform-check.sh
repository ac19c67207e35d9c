#!/usr/bin/env bash
# Checks terraform/ offline: formatting, init and validate with the Google
# provider, and terraform test against a mock provider. Also checks that
# terraform/topology.json mirrors shared/eventing (a Go test).
#
# The Terraform registry is not needed: the Google provider (8.0.0) is built
# once from the Go module proxy and kept in a filesystem mirror under
# ${XDG_CACHE_HOME:-$HOME/.cache}/casebridge/terraform-providers (about 5 to 6
# minutes and 2 GB of memory the first time; instant afterwards). Terraform
# runs on a temporary copy of terraform/, so the clone stays clean.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

provider_version=8.0.0
# The 8.0.0 release as a Go module version (the v8 tags are not valid Go
# module versions, so the release commit's pseudo-version is used).
provider_module=github.com/hashicorp/terraform-provider-google@v1.20.1-0.20260828184646-f3721fb45fa3
min_terraform=1.9

fail() {
  echo "terraform-check: FAILED: $*" >&2
  exit 1
}

step() {
  echo "== terraform-check: $*"
}

# --- prerequisites ---------------------------------------------------------
command -v terraform >/dev/null 2>&1 ||
  fail "terraform is not installed: install Terraform >= $min_terraform (https://developer.hashicorp.com/terraform/install) and run again"
command -v go >/dev/null 2>&1 || fail "go is not installed: install Go (see go.mod) and run again"
tf_version=$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p' | head -1)
[ -n "$tf_version" ] || fail "cannot read the terraform version (terraform version -json)"
if [ "$(printf '%s\n%s\n' "$min_terraform" "$tf_version" | sort -V | head -1)" != "$min_terraform" ]; then
  fail "terraform $tf_version is too old: terraform test with mock providers and cross-variable validation need >= $min_terraform"
fi

# --- the Google provider, built once and cached ----------------------------
platform="$(go env GOOS)_$(go env GOARCH)"
mirror="${XDG_CACHE_HOME:-$HOME/.cache}/casebridge/terraform-providers"
provider_dir="$mirror/registry.terraform.io/hashicorp/google/$provider_version/$platform"
provider_bin="$provider_dir/terraform-provider-google_v$provider_version"

if [ ! -x "$provider_bin" ]; then
  step "building the Google provider $provider_version from the Go module proxy (once; about 6 minutes, 2 GB of memory)"
  mkdir -p "$provider_dir"
  # One build at a time, even when several checks start together.
  exec 9>"$mirror/.build.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if [ ! -x "$provider_bin" ]; then
    gobin=$(mktemp -d)
    start=$(date +%s)
    if ! GOBIN="$gobin" GOFLAGS= go install "$provider_module"; then
      rm -rf "$gobin"
      fail "building $provider_module failed: it needs the Go module proxy (GOPROXY=$(go env GOPROXY)) and about 2 GB of memory"
    fi
    mv "$gobin/terraform-provider-google" "$provider_bin.tmp"
    mv "$provider_bin.tmp" "$provider_bin"
    rm -rf "$gobin"
    echo "built in $(($(date +%s) - start)) s: $provider_bin"
  fi
  exec 9>&-
else
  step "using the cached Google provider $provider_version ($provider_bin)"
fi

# --- a private CLI configuration and a copy of terraform/ -------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/google"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/google"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$work/terraformrc"
export TF_DATA_DIR="$work/tf-data"
export TF_IN_AUTOMATION=1
export CHECKPOINT_DISABLE=1
unset TF_PLUGIN_CACHE_DIR TF_WORKSPACE

# Everything but Terraform's working files, local state and built zips.
mkdir -p "$work/terraform"
tar -C "$root/terraform" \
  --exclude=./.terraform --exclude=./.terraform.lock.hcl --exclude=./build \
  --exclude='*.tfstate' --exclude='*.tfstate.*' --exclude=./terraform.tfvars \
  -cf - . | tar -C "$work/terraform" -xf -
cd "$work/terraform"

# --- the checks ------------------------------------------------------------
step "terraform fmt -check -recursive"
terraform fmt -check -recursive -diff || fail "terraform/ is not formatted: run (cd terraform && terraform fmt -recursive)"

step "no public or basic-role grants, no default compute account"
# terraform test checks the grants it can see; this catches any new one.
# The one exception is the webhook receiver's public invoker, the single
# member line of webhook.tf (tests/webhook.tftest.hcl checks it is on that
# function only).
if grep -rnE 'allUsers|allAuthenticatedUsers|roles/(owner|editor|viewer)"|-compute@developer\.gserviceaccount\.com' \
  --include='*.tf' . | grep -vE '^\./webhook\.tf:[0-9]+: +member += "allUsers"$'; then
  fail "terraform/ grants a public or basic role, or uses the default compute account (lines above)"
fi

step "terraform init -backend=false (offline, from the filesystem mirror)"
terraform init -backend=false -input=false -no-color >"$work/init.log" 2>&1 || {
  cat "$work/init.log" >&2
  fail "terraform init failed"
}

step "terraform validate"
terraform validate -no-color || fail "terraform validate failed"

step "terraform test (mock Google provider)"
start=$(date +%s)
terraform test -no-color || fail "terraform test failed"
echo "terraform test took $(($(date +%s) - start)) s"

cd "$root"
step "terraform/topology.json mirrors shared/eventing (go test ./terraform/)"
go test -count=1 ./terraform/ || fail "terraform/topology.json differs from shared/eventing: update one to match the other"

step "all passed"
