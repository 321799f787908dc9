#!/usr/bin/env bash
# Speed and reach of `cargo clay scan`, in one run, against baselines measured in the same run.
#
#   bench/scan.sh [MB]                       # MB of generated source for the tree, default 200
#   REAL_REPO=/path/to/repo bench/scan.sh    # also a real repository (any clone, bare or not)
#
# 1. Working tree: MB of mixed source with planted keys, `cargo clay scan` against ripgrep with
#    the same patterns (`cargo clay scan --list-rules`), best of 3, page cache warm; then
#    detect-secrets on a subset of the same files.
# 2. History, generated: a repository of about 5,000 commits (files changed a few at a time, so
#    most blobs are shared between commits; reverts that bring back old contents; binary files;
#    UTF-16 files), keys planted in added lines, in binary and UTF-16 files, in commit and tag
#    messages, behind a tag that points at a blob, in the older of two stash entries, and in
#    unreachable objects. `cargo clay scan --history-only` against
#    `git log -p --all --text | rg` with the same patterns, best of 3 each.
# 3. History, real (REAL_REPO): the same two runs on a mirror clone of it as it is; then the
#    distinct keys each finds once five blind-spot objects are planted in the clone (a tag
#    message, a tag pointing at a blob, an older stash entry, an unreachable blob, a UTF-16
#    file).
# Keys are counted as distinct secrets (SHA-256) of the key rules (live, test, webhook), rg's
# matches filtered by the same definition (a prefix not preceded by a letter or digit, a body
# that is not one repeated character).
#
# Installs what it needs: ripgrep (Debian), detect-secrets (PyPI), a release build of cargo-clay.
set -euo pipefail

MB="${1:-200}"
COMMITS="${COMMITS:-5000}"
DS_MB="${DS_MB:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${BENCH_DIR:-/tmp/clay-scan-bench}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
REAL_REPO="${REAL_REPO:-}"
REAL_NAME="${REAL_NAME:-$(basename "${REAL_REPO%/}" .git)}"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need rg; then
    (apt-get update -qq && apt-get install -y -qq ripgrep) >/dev/null
fi
if ! need detect-secrets; then
    pip install -q detect-secrets >/dev/null 2>&1 || pip install -q --break-system-packages detect-secrets >/dev/null 2>&1 || true
fi
need python3 || { echo "python3 is required" >&2; exit 2; }

echo "building cargo-clay (release)..." >&2
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p cargo-clay)
CLAY="$TARGET/release/cargo-clay"

rm -rf "$WORK"
mkdir -p "$WORK"
TREE="$WORK/tree"
REPO="$WORK/repo"
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=b@example.com \
    GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=b@example.com

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
kinds = [live, test, whsec]

target = mb * 1024 * 1024
size, n, planted = 0, 0, 0
os.makedirs(tree, exist_ok=True)
while size < target:
    d = os.path.join(tree, f"pkg{n // 100:03d}", f"mod{(n // 10) % 10}")
    os.makedirs(d, exist_ok=True)
    lines = rng.choices(pool, k=rng.randint(800, 2400))
    if n % 211 == 7:
        lines[rng.randrange(len(lines))] = f'    const CLAY_KEY: &str = "{kinds[planted % 3]()}";'
        planted += 1
    text = "\n".join(lines) + "\n"
    with open(os.path.join(d, f"file{n:05d}.{rng.choice(exts)}"), "w") as f:
        f.write(text)
    size += len(text)
    n += 1
with open(os.path.join(work, "tree-planted.txt"), "w") as f:
    f.write(f"{planted}\n")

# History: a fast-import stream.
os.makedirs(repo, exist_ok=True)
subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
stream, mark = [], 0
def blob(raw):
    global mark
    mark += 1
    stream.append(f"blob\nmark :{mark}\ndata {len(raw)}\n".encode() + raw + b"\n")
    return mark
files, old_versions, history_keys = {}, {}, 0
def utf16(text): return b"\xff\xfe" + text.encode("utf-16-le")
def commit(branch, i, parent):
    global mark, history_keys
    changes = []
    for _ in range(rng.randint(1, 3)):
        name = f"src/m{rng.randrange(300):03d}.{rng.choice(exts)}"
        if name in old_versions and rng.random() < 0.05:
            raw = rng.choice(old_versions[name])   # a revert: an old blob again
        else:
            lines = list(files.get(name) or rng.choices(pool, k=rng.randint(40, 200)))
            for _ in range(rng.randint(1, 6)):
                lines[rng.randrange(len(lines))] = rng.choice(pool)
            if i % 97 == 13:
                lines[rng.randrange(len(lines))] = f'KEY = "{kinds[history_keys % 3]()}"'
                history_keys += 1
            files[name] = lines
            raw = ("\n".join(lines) + "\n").encode()
            old_versions.setdefault(name, []).append(raw)
        changes.append((name, blob(raw)))
    if i % 50 == 7:   # a binary file (NUL bytes), some with a key inside
        data = bytes(rng.randrange(256) for _ in range(rng.randint(2000, 20000)))
        if i % 250 == 7:
            data += b"\x00" + kinds[history_keys % 3]().encode() + b"\x00"
            history_keys += 1
        changes.append((f"assets/a{rng.randrange(40):02d}.bin", blob(data)))
    if i % 400 == 11:   # a UTF-16 file holding a key
        changes.append((f"win/s{i}.ini", blob(utf16(f"[clay]\r\nkey={kinds[history_keys % 3]()}\r\n"))))
        history_keys += 1
    if i % 500 == 250 and files:
        gone = rng.choice(sorted(files))
        del files[gone]
        changes.append((gone, None))
    mark += 1
    msg = f"change {i}".encode()
    head = f"commit refs/heads/{branch}\nmark :{mark}\ncommitter Bench <b@example.com> {1700000000 + i} +0000\ndata {len(msg)}\n".encode() + msg + b"\n"
    if parent:
        head += f"from :{parent}\n".encode()
    body = b"".join((f"M 100644 :{m} {p}\n" if m else f"D {p}\n").encode() for p, m in changes)
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

# Blind-spot objects, planted with git itself: a tag message, a tag that points at a blob, the
# older of two stash entries, an unreachable blob, a UTF-16 file. Prints nothing.
key() { python3 -c "import random,string; r=random.Random($1); print('$2' + ''.join(r.choice(string.ascii_letters + string.digits) for _ in range(28)))"; }
plant() {
    local repo="$1" head tree blob c1 c2
    head=$(git -C "$repo" rev-parse HEAD)
    git -C "$repo" tag -a -m "release notes: $(key 1 sk_live_)" clay-bench-annotated "$head"
    blob=$(key 2 sk_test_ | git -C "$repo" hash-object -w --stdin)
    git -C "$repo" tag clay-bench-blob "$blob"
    # Two stash entries (refs/stash and its reflog): the older holds a key.
    tree=$(printf '100644 blob %s\tstashed.txt\n' "$(key 3 sk_live_ | git -C "$repo" hash-object -w --stdin)" | git -C "$repo" mktree)
    c1=$(git -C "$repo" commit-tree -p "$head" -m "WIP on main" "$tree")
    c2=$(git -C "$repo" commit-tree -p "$head" -m "WIP on main" "$(git -C "$repo" rev-parse "$head^{tree}")")
    git -C "$repo" update-ref --create-reflog -m "stash one" refs/stash "$c1"
    git -C "$repo" update-ref --create-reflog -m "stash two" refs/stash "$c2"
    key 4 whsec_ | git -C "$repo" hash-object -w --stdin >/dev/null
    # A UTF-16 file in a commit of its own branch.
    blob=$(python3 -c "import sys; sys.stdout.buffer.write(b'\xff\xfe' + ('k=' + sys.argv[1] + '\r\n').encode('utf-16-le'))" "$(key 5 sk_test_)" | git -C "$repo" hash-object -w --stdin)
    tree=$(printf '100644 blob %s\twin.ini\n' "$blob" | git -C "$repo" mktree)
    git -C "$repo" update-ref refs/heads/clay-bench-utf16 "$(git -C "$repo" commit-tree -p "$head" -m utf16 "$tree")"
}
plant "$REPO"

PATTERNS=()
KEY_PATTERNS=()
while IFS=$'\t' read -r id pattern; do
    PATTERNS+=(-e "$pattern")
    case "$id" in live_key|test_key|webhook_secret) KEY_PATTERNS+=(-e "(?:^|[^A-Za-z0-9])$pattern") ;; esac
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

# Distinct key secrets (sha256) among rg's matches on standard input, by the key definition.
distinct_keys() {
    python3 -c '
import hashlib, re, sys
seen = set()
for raw in sys.stdin.buffer:
    text = raw.rstrip(b"\n")
    m = re.search(rb"(sk_live_|sk_test_|whsec_)(.*)$", text)
    if not m or len(set(m.group(2))) <= 1:
        continue
    seen.add(hashlib.sha256(m.group(1) + m.group(2)).hexdigest())
print(len(seen))'
}
# Distinct key secrets in `git log -p --all --text` of a repository, as rg finds them.
rg_keys() {
    { git -C "$1" log -p --all --text --no-color | rg -a -o --no-line-number "${KEY_PATTERNS[@]}" || true; } | distinct_keys
}
# Distinct key secrets in our JSON findings.
our_keys() {
    python3 -c '
import json, sys
found = json.load(open(sys.argv[1]))["findings"]
print(len({f["fingerprint"] for f in found if f["rule"] in ("live_key", "test_key", "webhook_secret")}))' "$1"
}
history_row() {  # name repo
    local name="$1" repo="$2" t_ours t_rg commits blobs
    echo "timing history: $name..." >&2
    t_ours=$(best "$CLAY" scan "$repo" --history-only --format json)
    t_rg=$(best bash -c "git -C '$repo' log -p --all --text --no-color | rg -a -n -o $(printf '%q ' "${PATTERNS[@]}")")
    "$CLAY" scan "$repo" --history-only --format json > "$WORK/ours.json" || true
    commits=$(git -C "$repo" rev-list --all --count)
    echo "$name|$commits|$t_ours|$t_rg|$(our_keys "$WORK/ours.json")|$(rg_keys "$repo")"
}

TREE_MB=$(du -sm --apparent-size "$TREE" | cut -f1)
find "$TREE" -type f -exec cat {} + >/dev/null  # warm the page cache for everyone

echo "timing the working tree scan..." >&2
T_CLAY=$(best "$CLAY" scan "$TREE" --format json)
T_RG=$(best rg --hidden -n --no-heading -o "${PATTERNS[@]}" "$TREE")
"$CLAY" scan "$TREE" --format json > "$WORK/clay-tree.json" || true
TREE_OURS=$(our_keys "$WORK/clay-tree.json")
TREE_RG=$({ rg --hidden -a -o --no-heading --no-filename --no-line-number "${KEY_PATTERNS[@]}" "$TREE" || true; } | distinct_keys)

T_DS=0; T_CLAY_SUB=0; SUB_MB=0
if need detect-secrets; then
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
fi

ROWS=("$(history_row "generated" "$REPO")")
if [ -n "$REAL_REPO" ]; then
    REAL="$WORK/real.git"
    git clone -q --mirror "$REAL_REPO" "$REAL"
    ROWS+=("$(history_row "real: $REAL_NAME" "$REAL")")
    plant "$REAL"
    "$CLAY" scan "$REAL" --history-only --format json > "$WORK/ours.json" || true
    ROWS+=("real: $REAL_NAME + 5 planted objects|$(git -C "$REAL" rev-list --all --count)|-|-|$(our_keys "$WORK/ours.json")|$(rg_keys "$REAL")")
fi

python3 - "$TREE_MB" "$T_CLAY" "$T_RG" "$TREE_OURS" "$TREE_RG" "$SUB_MB" "$T_DS" "$T_CLAY_SUB" "${ROWS[@]}" <<'PY'
import sys
tree_mb, t_clay, t_rg = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
tree_ours, tree_rg = sys.argv[4], sys.argv[5]
sub_mb, t_ds, t_clay_sub = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
rows = [r.split("|") for r in sys.argv[9:]]
rate = lambda mb, t: mb / t if t > 0 else float("inf")
print("Working tree (same files, same patterns, best of 3):")
print()
print("| run | input | seconds | MB/s | distinct keys |")
print("|---|--:|--:|--:|--:|")
print(f"| cargo clay scan | {tree_mb:.0f} MB | {t_clay:.2f} | {rate(tree_mb, t_clay):.0f} | {tree_ours} |")
print(f"| rg (same patterns) | {tree_mb:.0f} MB | {t_rg:.2f} | {rate(tree_mb, t_rg):.0f} | {tree_rg} |")
if t_ds > 0:
    print(f"| cargo clay scan | {sub_mb:.0f} MB subset | {t_clay_sub:.2f} | {rate(sub_mb, t_clay_sub):.0f} | |")
    print(f"| detect-secrets | {sub_mb:.0f} MB subset | {t_ds:.2f} | {rate(sub_mb, t_ds):.2f} | |")
print()
print(f"throughput vs ripgrep: {t_rg / t_clay:.2f}x (target >= 0.8x)")
if t_ds > 0:
    print(f"throughput vs detect-secrets: {rate(sub_mb, t_clay_sub) / rate(sub_mb, t_ds):.0f}x")
print()
print("History (best of 3; keys = distinct secrets of the key rules):")
print()
print("| repository | commits | cargo clay scan --history-only | git log -p --all --text \\| rg | speed-up | keys found: ours | keys found: rg |")
print("|---|--:|--:|--:|--:|--:|--:|")
for name, commits, t_ours, t_rg, ours, rg in rows:
    if t_ours == "-":
        print(f"| {name} | {commits} | | | | {ours} | {rg} |")
    else:
        print(f"| {name} | {commits} | {float(t_ours):.2f} s | {float(t_rg):.2f} s | {float(t_rg) / float(t_ours):.2f}x | {ours} | {rg} |")
PY
