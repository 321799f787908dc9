#!/usr/bin/env bash
# Compile time and peak memory of #[derive(ClayConfig)] as a struct grows, next to serde's
# `#[derive(Deserialize)]` of the same struct, in the same run.
#
# For each size (default 100 400 1600 fields) two crates are generated: one whose struct
# derives `ClayConfig` (settings of a few types, some optional, some with defaults, every tenth
# field an `Option<ApiKey>` with scopes), one whose identical struct (the same field names and
# types, keys as `Option<String>`) derives `serde::Deserialize`. Dependencies are built first;
# then only the crate itself is rebuilt (`cargo build`, debug, like a developer's loop) under
# `/usr/bin/time -v`: wall seconds and the peak resident memory of the largest process (rustc).
#
# Usage: bench/derive-size.sh [SIZE...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${BENCH_DIR:-$(mktemp -d)}"
trap '[ -n "${BENCH_DIR:-}" ] || rm -rf "$work"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 400 1600)
export CARGO_TARGET_DIR="$work/target"

# The struct's fields: `kind` is clay or serde.
fields() { # kind n
  local kind=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    if ((i % 10 == 9)); then
      if [ "$kind" = clay ]; then
        printf '    #[clay(env = "BENCH_KEY_%d", scopes(development = ["read:*"], production = ["read:tables"]))]\n    pub k%d: Option<ApiKey>,\n' "$i" "$i"
      else
        printf '    pub k%d: Option<String>,\n' "$i"
      fi
      continue
    fi
    local ty attr=""
    case $((i % 4)) in
      0) ty=String ;;
      1) ty=u16; attr=', default = "8080"' ;;
      2) ty='Option<String>' ;;
      3) ty=bool; attr=', default = "false"' ;;
    esac
    if [ "$kind" = clay ]; then
      printf '    #[clay(env = "BENCH_SETTING_%d"%s)]\n' "$i" "$attr"
    fi
    printf '    pub s%d: %s,\n' "$i" "$ty"
  done
}

new_crate() { # dir deps main
  mkdir -p "$1/src"
  printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[dependencies]\n%s\n\n[workspace]\n' \
    "$(basename "$1")" "$2" > "$1/Cargo.toml"
  printf '%s\n' "$3" > "$1/src/main.rs"
  cp "$root/Cargo.lock" "$1/Cargo.lock"
}

# "seconds peak-MiB" of rebuilding the crate in $1 (its dependencies already built).
measure() {
  (cd "$1" && cargo build -q 2>/dev/null) || true
  touch "$1/src/main.rs"
  local log="$work/time.log"
  if ! (cd "$1" && /usr/bin/time -v cargo build -q) 2>"$log" >/dev/null; then
    if grep -q 'error' "$log"; then grep -m5 'error' "$log" >&2; fi
    echo "failed $(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")"
    return
  fi
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
    /Maximum resident set size/ { mem = $2 / 1024 }
    END { printf "%.1f %.0f\n", wall, mem }' "$log"
}

printf '%-7s | %-22s | %-22s | %s\n' fields "ClayConfig (s, MiB)" "serde Deserialize (s, MiB)" "ratio (time, memory)"
printf '%s\n' "--------|------------------------|------------------------|---------------------"
for n in "${sizes[@]}"; do
  clay="$work/clay_$n"
  serde="$work/serde_$n"
  new_crate "$clay" "clay-config = { path = \"$root/clay-config\", default-features = false, features = [\"derive\"] }" \
"use clay_config::{ApiKey, ClayConfig};

#[derive(ClayConfig)]
pub struct Config {
$(fields clay "$n")
}

fn main() {
    let _ = Config::load_from([(\"CLAY_ENV\", \"development\")]).map(|c| c.s0.len());
}"
  new_crate "$serde" 'serde = { version = "1", features = ["derive"] }
serde_json = "1"' \
"#[derive(serde::Deserialize)]
pub struct Config {
$(fields serde "$n")
}

fn main() {
    let _ = serde_json::from_str::<Config>(\"{}\").map(|c| c.s0.len());
}"
  read -r ct cm < <(measure "$clay")
  read -r st sm < <(measure "$serde")
  ratio=$(awk -v ct="$ct" -v cm="$cm" -v st="$st" -v sm="$sm" 'BEGIN {
    if (ct == "failed") { print "ClayConfig build failed"; exit }
    if (st == "failed") { print "serde build failed (rustc crashed or ran out of memory)"; exit }
    printf "%.2fx, %.2fx", ct / st, cm / sm }')
  printf '%-7s | %8s s %9s MiB | %8s s %9s MiB | %s\n' "$n" "$ct" "$cm" "$st" "$sm" "$ratio"
done
