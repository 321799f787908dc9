#!/usr/bin/env bash
# Build cost of #[derive(ClayConfig)], measured against the baseline every user already pays:
# the same small crate using only `serde` derive + `toml`. Cold builds (empty target dirs), CPU
# seconds (user + system of every process cargo starts), in the same run, and the ratio.
# Then: `cargo tree -d` for a second major of syn/quote/toml, and the expansion cost of 50
# annotated structs naming one policy file (parsed once per compiler process) against 1.
#
# Usage: bench/build-cost.sh [JOBS]   (default: all cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
jobs="${1:-$(nproc)}"

# CPU seconds of a command's whole process tree.
cpu() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.time()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.time() - start
if proc.returncode != 0:
    sys.stderr.write(proc.stderr.decode())
    sys.exit(proc.returncode)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{usage.ru_utime + usage.ru_stime:.1f} {wall:.1f}")
PY
}

new_crate() { # name deps main.rs
  mkdir -p "$work/$1/src"
  printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[dependencies]\n%s\n\n[workspace]\n' "$1" "$2" > "$work/$1/Cargo.toml"
  printf '%s\n' "$3" > "$work/$1/src/main.rs"
  cp "$root/Cargo.lock" "$work/$1/Cargo.lock"
}

new_crate with-serde 'serde = { version = "1", features = ["derive"] }
toml = "1"' '
#[derive(serde::Deserialize, Debug)]
struct Clay { reader: String, writer: Option<String>, base_url: String }
fn main() {
    let clay: Clay = toml::from_str("reader = \"a\"\nbase_url = \"b\"\n").expect("valid");
    println!("{clay:?}");
}'

new_crate with-clay "clay-config = { path = \"$root/clay-config\" }" '
use clay_config::{ApiKey, ClayConfig};
#[derive(ClayConfig, Debug)]
struct Clay {
    #[clay(env = "CLAY_READ_KEY", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]
    reader: ApiKey,
    #[clay(env = "CLAY_WRITE_KEY", scopes(staging = ["write:limited"], production = ["write:rows"]))]
    writer: Option<ApiKey>,
    #[clay(env = "CLAY_BASE_URL", default = "https://api.clay.com")]
    base_url: String,
}
fn main() { println!("{:?}", Clay::load()); }'

# The same derive with only the `derive` feature: no webhook (http, base64), no audit (serde_json).
mkdir -p "$work/with-clay-lean"
cp -r "$work/with-clay/src" "$work/with-clay-lean/"
sed -e 's/name = "with-clay"/name = "with-clay-lean"/' \
    -e "s|clay-config = { path = \"$root/clay-config\" }|clay-config = { path = \"$root/clay-config\", default-features = false, features = [\"derive\"] }|" \
    "$work/with-clay/Cargo.toml" > "$work/with-clay-lean/Cargo.toml"
cp "$root/Cargo.lock" "$work/with-clay-lean/Cargo.lock"

(cd "$work/with-serde" && cargo fetch -q) && (cd "$work/with-clay" && cargo fetch -q)
echo "cold cargo build (debug, -j $jobs), CPU seconds and wall seconds:"
read -r serde_cpu serde_wall < <(cd "$work/with-serde" && cpu cargo build --offline -q -j "$jobs" --target-dir "$work/t-serde")
read -r clay_cpu clay_wall < <(cd "$work/with-clay" && cpu cargo build --offline -q -j "$jobs" --target-dir "$work/t-clay")
read -r lean_cpu lean_wall < <(cd "$work/with-clay-lean" && cpu cargo build --offline -q -j "$jobs" --target-dir "$work/t-lean")
printf '  %-44s %6s CPU s %6s wall s\n' "serde derive + toml (baseline)" "$serde_cpu" "$serde_wall"
printf '  %-44s %6s CPU s %6s wall s  %5sx CPU\n' "clay-config, default features" "$clay_cpu" "$clay_wall" "$(python3 -c "print(f'{$clay_cpu / $serde_cpu:.2f}')")"
printf '  %-44s %6s CPU s %6s wall s  %5sx CPU\n' "clay-config, features = [\"derive\"] only" "$lean_cpu" "$lean_wall" "$(python3 -c "print(f'{$lean_cpu / $serde_cpu:.2f}')")"
echo "  (target: at most 1.3x)"

echo
echo "duplicate majors in the user's build (cargo tree -d, syn/quote/toml):"
dups="$(cd "$work/with-clay" && cargo tree -d --offline -e normal,build 2>/dev/null | grep -E '^(syn|quote|toml) ' || true)"
echo "  ${dups:-none}"

echo
echo "expansion: 50 annotated structs naming one policy file, against 1 (warm dependencies):"
cat > "$work/with-clay/clay-policy.toml" <<'TOML'
[environments.production]
allow = ["read:tables", "write:rows"]
TOML
one_struct() { # index
  printf '#[derive(clay_config::ClayConfig)]\n#[clay(policy = "clay-policy.toml")]\n#[allow(dead_code)]\nstruct Config%s {\n    #[clay(env = "CLAY_READ_KEY_%s", scopes(development = ["read:*"], staging = ["read:*"], production = ["read:tables"]))]\n    reader: clay_config::ApiKey,\n    #[clay(env = "CLAY_WRITE_KEY_%s", scopes(production = ["write:rows"]))]\n    writer: Option<clay_config::ApiKey>,\n    #[clay(env = "CLAY_URL_%s", default = "https://api.clay.com")]\n    base_url: String,\n}\n' "$1" "$1" "$1" "$1"
}
for n in 1 50; do
  { for i in $(seq 1 "$n"); do one_struct "$i"; done; echo 'fn main() {}'; } > "$work/with-clay/src/main.rs"
  read -r cpu_s wall_s < <(cd "$work/with-clay" && cpu cargo build --offline -q -j "$jobs" --target-dir "$work/t-clay")
  printf '  %2s struct(s): %6s CPU s %6s wall s\n' "$n" "$cpu_s" "$wall_s"
done
