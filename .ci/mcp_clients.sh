#!/usr/bin/env bash
# memrl-mcp against real MCP clients: the MCP Inspector's CLI mode and Claude Code.
#
# Usage: .ci/mcp_clients.sh <venv>      (e.g. .ci/mcp_clients.sh "$PWD/.venv")
#
# Everything happens in a scratch folder: Node 22 and both clients come from npm, HOME and
# MEMRL_DATA_DIR point into it, so no real configuration or store is read or written.
# `claude mcp list` exits 0 even when a server fails, so its text is checked.
set -euo pipefail

VENV="$(cd "${1:?usage: $0 <venv>}" && pwd)"
SERVER="$VENV/bin/memrl-mcp"
PY="$VENV/bin/python"
[ -x "$SERVER" ] || { echo "no memrl-mcp in $VENV/bin" >&2; exit 1; }

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
export HOME="$SCRATCH/home" MEMRL_DATA_DIR="$SCRATCH/memrl" NO_COLOR=1
mkdir -p "$HOME"
fail() { echo "mcp_clients: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "installing Node 22, the MCP Inspector and Claude Code into $SCRATCH"
cd "$SCRATCH"
npm init -y >/dev/null
npm install --no-audit --no-fund --update-notifier=false --loglevel=error \
    node@22 @modelcontextprotocol/inspector @anthropic-ai/claude-code >/dev/null
export PATH="$SCRATCH/node_modules/.bin:$PATH"
node --version | grep -q '^v22\.' || fail "expected Node 22, got $(node --version)"

json() { "$PY" -c "import json, sys; data = json.load(sys.stdin); $1"; }
inspector() {
    mcp-inspector --cli -e "MEMRL_DATA_DIR=$MEMRL_DATA_DIR" -e "HOME=$HOME" "$SERVER" "$@"
}

step "Inspector: tools/list"
tools="$(inspector --method tools/list)"
names="$(json 'print(" ".join(sorted(t["name"] for t in data["tools"])))' <<<"$tools")"
expected="memrl_capture memrl_feedback memrl_propagate memrl_retrieve memrl_review memrl_stats memrl_status"
[ "$names" = "$expected" ] || fail "tools/list gave: $names"
echo "7 tools: $names"

step "Inspector: memrl_capture, then memrl_retrieve"
captured="$(inspector --method tools/call --tool-name memrl_capture \
    --tool-arg 'summary=Fixed the flaky upload by retrying with exponential backoff' \
    --tool-arg 'task=Flaky S3 upload in CI' --tool-arg outcome=success \
    --tool-arg 'what_worked=["retry with exponential backoff"]')"
id="$(json 'assert not data.get("isError"), data; print(data["structuredContent"]["short_id"])' <<<"$captured")"
echo "captured $id"
found="$(inspector --method tools/call --tool-name memrl_retrieve \
    --tool-arg 'query=upload keeps failing intermittently')"
json "assert not data.get('isError'), data
hits = data['structuredContent']['results']
assert hits and hits[0]['short_id'] == '$id', hits
text = data['content'][0]['text']
assert '(id $id)' in text and 'exponential backoff' in text, text
print(text.splitlines()[1])" <<<"$found"
inspector --method tools/call --tool-name memrl_retrieve --tool-arg query=upload --tool-arg limit=500 \
    | json 'assert data.get("isError"), "limit=500 must be a tool error"; print("refused:", data["content"][0]["text"][:90])'

step "Claude Code: claude mcp add + claude mcp list"
claude --version
claude mcp add --scope user memrl -- "$SERVER"
listed="$(claude mcp list 2>&1)"
echo "$listed"
grep -q "^memrl: .*✔ Connected" <<<"$listed" || fail "claude mcp list does not report memrl as connected"
claude mcp get memrl
claude mcp remove --scope user memrl >/dev/null

step "memrl setup claude: registers, is idempotent, uninstalls"
setup() {
    if "$VENV/bin/memrl" setup claude --help >/dev/null 2>&1; then
        "$VENV/bin/memrl" setup claude --no-hooks --json "$@" | json 'print(data["action"])'
    else  # the CLI command is not wired in yet: call the same function
        local undo=False; [ "${1:-}" = "--uninstall" ] && undo=True
        "$PY" -c "from memrl.integrations.claude.setup import register; print(register(uninstall=$undo).action)"
    fi
}
[ "$(setup)" = "added" ] || fail "setup did not add the server"
[ "$(setup)" = "unchanged" ] || fail "setup is not idempotent"
claude mcp list 2>&1 | grep -q "^memrl: .*✔ Connected" || fail "not connected after setup"
[ "$(setup --uninstall)" = "removed" ] || fail "setup --uninstall did not remove it"
! claude mcp get memrl >/dev/null 2>&1 || fail "memrl is still registered after --uninstall"

echo "mcp_clients: all checks passed"
