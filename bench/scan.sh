#!/usr/bin/env bash
# Speed of `cargo clay scan` (issue 6, "Speed"), one run, printed as a table of times and ratios.
#
#   bench/scan.sh [MB]          # MB of generated source, default 200
#
# 1. Working tree: MB of mixed source (Rust, Python, JS, JSON, YAML, Markdown, env files) with a
#    few planted keys, scanned by `cargo clay scan` and by ripgrep with the same patterns
#    (`cargo clay scan --list-rules`), best of 3 each, page cache warm; then detect-secrets on a
#    subset of the same files (it is orders of magnitude slower; the ratio is by throughput).
# 2. History: a generated repository of 5,000 commits (keys planted, some deleted later, one on
#    a side branch only), `cargo clay scan --history-only` against `git log -p --all | rg`.
# 3. Findings: on the planted keys (live, test, webhook), ours and ripgrep's must be the same
#    (file:line in the tree, the set of distinct secrets in history).
#
# Installs what it needs: ripgrep (Debian), detect-secrets (PyPI), a release build of cargo-clay.
set -euo pipefail

MB="${1:-200}"
COMMITS="${COMMITS:-5000}"
DS_MB="${DS_MB:-10}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${BENCH_DIR:-/tmp/clay-scan-bench}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need rg; then
    (apt-get update -qq && apt-get install -y -qq ripgrep) >/dev/null
fi
if ! need detect-secrets; then
    pip install -q detect-secrets >/dev/null 2>&1 || pip install -q --break-system-packages detect-secrets >/dev/null
fi
need python3 || { echo "python3 is required" >&2; exit 2; }

echo "building cargo-clay (release)..." >&2
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p cargo-clay)
CLAY="$TARGET/release/cargo-clay"

rm -rf "$WORK"
mkdir -p "$WORK"
TREE="$WORK/tree"
REPO="$WORK/repo"

echo "generating ${MB} MB of source and a ${COMMITS}-commit repository..." >&2
python3 - "$TREE" "$MB" "$REPO" "$COMMITS" "$WORK" <<'PY'
import os, random, subprocess, sys

tree, mb, repo, commits, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
rng = random.Random(6)
alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
def rand(n, chars=alnum): return "".join(rng.choice(chars) for _ in range(n))
words = ["table", "rows", "enrich", "person", "company", "domain", "email", "score", "batch",
         "client", "request", "response", "token_count", "key_name", "secret_ref", "handler",
         "config", "value", "index", "result", "error", "retry", "timeout", "limit", "offset"]
def ident(): return "_".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
templates = [
    lambda: f"    let {ident()} = {ident()}(&{ident()}, {rng.randint(0, 9999)});",
    lambda: f"fn {ident()}(input: &str) -> Result<{ident().title()}, Error> {{",
    lambda: f"        if {ident()} > {rng.randint(0, 100)} {{ return Err(Error::{ident().title()}); }}",
    lambda: f"def {ident()}(self, {ident()}, {ident()}=None):",
    lambda: f"    {ident()} = self.{ident()}.get('{ident()}', {rng.randint(0, 50)})",
    lambda: f"const {ident()} = await fetch(`/v1/{ident()}/${{id}}`, {{ method: 'POST' }});",
    lambda: f'  "{ident()}": {{"{ident()}": {rng.randint(0, 10**6)}, "enabled": true}},',
    lambda: f"{ident()}:\n  {ident()}: {ident()}\n  replicas: {rng.randint(1, 9)}",
    lambda: f"The {ident()} of each {ident()} is stored in `{ident()}` (see {ident()}.md).",
    lambda: f"API_KEY_NAME = \"CLAY_API_KEY\"  # the variable, not the key",
    lambda: f"    secret_name: {ident()}-{rng.randint(1, 99)}",
    lambda: f"    // sha256: {rand(64, '0123456789abcdef')}",
    lambda: f"    token: ${{{{ secrets.{ident().upper()} }}}}",
    lambda: f"    println!(\"{{}}: {{}}\", {ident()}, {ident()}.len());",
]
pool = [t() for t in templates for _ in range(600)]
exts = ["rs", "py", "js", "json", "yaml", "md", "ts", "toml"]

# Planted keys: built here, written at known places, never printed.
live = lambda: "sk_" + "live_" + rand(28)
test = lambda: "sk_" + "test_" + rand(28)
whsec = lambda: "whsec_" + rand(32)
planted = []

target = mb * 1024 * 1024
size, n = 0, 0
os.makedirs(tree, exist_ok=True)
while size < target:
    d = os.path.join(tree, f"pkg{n // 100:03d}", f"mod{(n // 10) % 10}")
    os.makedirs(d, exist_ok=True)
    lines = rng.choices(pool, k=rng.randint(800, 2400))
    if n % 211 == 7:
        at = rng.randrange(len(lines))
        key = [live, test, whsec][len(planted) % 3]()
        lines[at] = f'    const CLAY_KEY: &str = "{key}";'
        planted.append(f"{n}:{at + 1}")
    path = os.path.join(d, f"file{n:05d}.{rng.choice(exts)}")
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    size += len(text)
    n += 1
with open(os.path.join(work, "tree-planted.txt"), "w") as f:
    f.write("\n".join(planted) + "\n")

# History: a fast-import stream of `commits` commits on main, 20 on a side branch.
os.makedirs(repo, exist_ok=True)
subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
stream = []
mark = 0
def blob(data):
    global mark
    mark += 1
    raw = data.encode()
    stream.append(f"blob\nmark :{mark}\ndata {len(raw)}\n".encode() + raw + b"\n")
    return mark
files = {}
history_keys = 0
def commit(branch, i, parent):
    global mark, history_keys
    changes = []
    for _ in range(rng.randint(1, 3)):
        name = f"src/m{rng.randrange(300):03d}.{rng.choice(exts)}"
        lines = files.get(name) or rng.choices(pool, k=rng.randint(40, 200))
        lines = list(lines)
        for _ in range(rng.randint(1, 6)):
            lines[rng.randrange(len(lines))] = rng.choice(pool)
        if i % 97 == 13 or i == commits + 5:  # one key on the side branch only
            lines[rng.randrange(len(lines))] = f'KEY = "{[live, test, whsec][history_keys % 3]()}"'
            history_keys += 1
        files[name] = lines
        changes.append((name, blob("\n".join(lines) + "\n")))
    if i % 500 == 250 and files:
        gone = rng.choice(sorted(files))
        del files[gone]
        changes.append((gone, None))
    mark += 1
    msg = f"change {i}".encode()
    head = f"commit refs/heads/{branch}\nmark :{mark}\ncommitter Bench <b@example.com> {1700000000 + i} +0000\ndata {len(msg)}\n".encode() + msg + b"\n"
    if parent:
        head += f"from :{parent}\n".encode()
    body = b"".join(
        (f"M 100644 :{m} {p}\n" if m else f"D {p}\n").encode() for p, m in changes
    )
    stream.append(head + body + b"\n")
    return mark
parent = None
for i in range(commits - 20):
    parent = commit("main", i, parent)
side = parent
for i in range(20):
    side = commit("side", commits + i, side)
subprocess.run(["git", "-C", repo, "fast-import", "--quiet"], input=b"".join(stream), check=True)
subprocess.run(["git", "-C", repo, "checkout", "-q", "main"], check=True)
PY

PATTERNS=()
while IFS=$'\t' read -r id pattern; do PATTERNS+=(-e "$pattern"); done < <("$CLAY" scan --list-rules)
KEY_PATTERNS=()
while IFS=$'\t' read -r id pattern; do
    case "$id" in live_key|test_key|webhook_secret) KEY_PATTERNS+=(-e "$pattern") ;; esac
done < <("$CLAY" scan --list-rules)

# Wall-clock seconds of one run, and the best of three.
once() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1 - $t0:.3f}')"
}
best() {
    local best="" t
    for _ in 1 2 3; do
        t=$(once "$@")
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $t < $best else 1)"; then best=$t; fi
    done
    echo "$best"
}

TREE_MB=$(du -sm --apparent-size "$TREE" | cut -f1)
find "$TREE" -type f -exec cat {} + >/dev/null  # warm the page cache for everyone

echo "timing the working tree scan..." >&2
T_CLAY=$(best "$CLAY" scan "$TREE" --format json)
T_RG=$(best rg --hidden -n --no-heading -o "${PATTERNS[@]}" "$TREE")

# detect-secrets on a subset of the same files (it scans ~1 MB/s).
SUBSET="$WORK/subset"
mkdir -p "$SUBSET"
python3 - "$TREE" "$SUBSET" "$DS_MB" <<'PY'
import os, shutil, sys
tree, subset, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
total = 0
for d, _, fs in sorted(os.walk(tree)):
    for f in sorted(fs):
        p = os.path.join(d, f)
        if total >= mb * 1024 * 1024:
            break
        dst = os.path.join(subset, os.path.relpath(p, tree))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(p, dst)
        total += os.path.getsize(p)
PY
SUB_MB=$(du -sm --apparent-size "$SUBSET" | cut -f1)
echo "timing detect-secrets on ${SUB_MB} MB of the same files..." >&2
T_DS=$(cd "$SUBSET" && once detect-secrets scan --all-files .)
T_CLAY_SUB=$(best "$CLAY" scan "$SUBSET" --format json)

echo "timing the history scan..." >&2
T_CLAY_H=$(best "$CLAY" scan "$REPO" --history-only --format json)
T_RG_H=$(best bash -c "git -C '$REPO' log -p --all --no-color | rg -n -o $(printf '%q ' "${PATTERNS[@]}")")
N_COMMITS=$(git -C "$REPO" rev-list --all --count)

# Findings on the planted keys: tree by file:line, history by distinct secret (sha256).
"$CLAY" scan "$TREE" --format json > "$WORK/clay-tree.json" || true
rg --hidden -n --no-heading "${KEY_PATTERNS[@]}" "$TREE" | cut -d: -f1,2 | sort -u > "$WORK/rg-tree.txt" || true
"$CLAY" scan "$REPO" --history-only --format json > "$WORK/clay-history.json" || true
git -C "$REPO" log -p --all --no-color | rg -o --no-line-number "${KEY_PATTERNS[@]}" | sort -u \
    | python3 -c 'import sys,hashlib; [print(hashlib.sha256(l.rstrip("\n").encode()).hexdigest()) for l in sys.stdin]' \
    | sort -u > "$WORK/rg-history.txt" || true

python3 - "$WORK" "$TREE" "$TREE_MB" "$SUB_MB" "$N_COMMITS" \
    "$T_CLAY" "$T_RG" "$T_DS" "$T_CLAY_SUB" "$T_CLAY_H" "$T_RG_H" <<'PY'
import json, os, sys
work, tree, tree_mb, sub_mb, commits = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
t_clay, t_rg, t_ds, t_clay_sub, t_clay_h, t_rg_h = map(float, sys.argv[6:12])
keys = {"live_key", "test_key", "webhook_secret"}
ours = json.load(open(os.path.join(work, "clay-tree.json")))["findings"]
ours_tree = sorted({f"{os.path.join(tree, f['file'])}:{f['line']}" for f in ours if f["rule"] in keys})
rg_tree = sorted(l.strip() for l in open(os.path.join(work, "rg-tree.txt")) if l.strip())
planted = [l for l in open(os.path.join(work, "tree-planted.txt")) if l.strip()]
hist = json.load(open(os.path.join(work, "clay-history.json")))["findings"]
ours_hist = sorted({f["fingerprint"] for f in hist if f["rule"] in keys})
rg_hist = sorted(l.strip() for l in open(os.path.join(work, "rg-history.txt")) if l.strip())
def rate(mb, t): return mb / t if t > 0 else float("inf")
rows = [
    ("tree: cargo clay scan", f"{tree_mb:.0f} MB", t_clay, rate(tree_mb, t_clay)),
    ("tree: rg (same patterns)", f"{tree_mb:.0f} MB", t_rg, rate(tree_mb, t_rg)),
    ("subset: cargo clay scan", f"{sub_mb:.0f} MB", t_clay_sub, rate(sub_mb, t_clay_sub)),
    ("subset: detect-secrets", f"{sub_mb:.0f} MB", t_ds, rate(sub_mb, t_ds)),
    ("history: cargo clay scan --history-only", f"{commits} commits", t_clay_h, None),
    ("history: git log -p --all | rg", f"{commits} commits", t_rg_h, None),
]
print(f"{'run':42} {'input':>14} {'seconds':>8} {'MB/s':>8}")
for name, size, t, r in rows:
    print(f"{name:42} {size:>14} {t:8.2f} {(f'{r:.1f}' if r else '-'):>8}")
print()
print(f"throughput vs ripgrep (tree):        {t_rg / t_clay:.2f}x  (target >= 0.8x)")
print(f"throughput vs detect-secrets:        {rate(sub_mb, t_clay_sub) / rate(sub_mb, t_ds):.0f}x  (target >= 10x)")
print(f"history vs git log -p --all | rg:    {t_rg_h / t_clay_h:.2f}x")
print(f"planted keys in the tree: {len(planted)}; found by us {len(ours_tree)}, by rg {len(rg_tree)}; same: {ours_tree == rg_tree}")
print(f"distinct planted keys in history: found by us {len(ours_hist)}, by rg {len(rg_hist)}; same: {ours_hist == rg_hist}")
PY
