"""Secret redaction, applied before anything is stored, embedded or sent to a model.

Episodes are built from transcripts, and transcripts hold whatever passed through a
terminal: keys in `.env` files, tokens in curl commands, passwords in database URLs.
A memory that keeps them would leak them into every later prompt, so each secret is
replaced by `[REDACTED:<kind>]` and only the count per kind is kept.

Known token formats are matched first, then generic `key = value` assignments whose key
names a secret or whose value looks random. The generic rules err towards leaving text
alone: hex digests, UUIDs, paths, URLs and code references are never taken for secrets.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memrl.episode import Episode

_MARKER = re.compile(r"\[REDACTED:[a-z_]+\]", re.IGNORECASE)
_TOKEN_END = r"(?![A-Za-z0-9_\-])"

# (kind, pattern, group to replace or None for the whole match, extra check on that group)
_Rule = tuple[str, re.Pattern[str], str | None, Callable[[str], bool] | None]


def _tokenish(value: str) -> bool:
    """Random-looking rather than a word: digits and letters, or mixed case in short runs."""
    letters = any(c.isalpha() for c in value)
    if letters and any(c.isdigit() for c in value):
        return True
    runs = _WORD_RUNS.findall(value)
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return mixed and bool(runs) and len(value) / len(runs) < 3


# Passwords that only ever appear in documentation examples.
_EXAMPLE_PASSWORDS = {"pass", "password", "passwd", "pw", "pwd", "secret", "bar", "xxx"}


def _not_placeholder(value: str) -> bool:
    return not (
        _MARKER.match(value)
        or _PLACEHOLDER.match(value)
        or value.lower() in _EXAMPLE_PASSWORDS
        or value.count("*") * 2 >= len(value)
    )


def _not_plain(value: str) -> bool:
    return not _plain(value)


_FLAG_VALUE = r"\s+(?P<v>[^\s\-][^\s\"'`]*)"
_PATTERNS: list[_Rule] = [
    ("private", re.compile(r"<private>.*?(?:</private>|\Z)", re.I | re.S), None, None),
    (
        "private_key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"|(?:(?:\s|\\n)*[A-Za-z0-9+/=]{20,})+)",
            re.S,
        ),
        None,
        None,
    ),
    (
        "aws_access_key",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z0-9]{16}\b"),
        None,
        None,
    ),
    (
        "aws_secret_key",
        re.compile(
            r"(?i:aws_?secret(?:_?access)?_?key)[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9/+=]{40})"
            r"(?![A-Za-z0-9/+=])"
        ),
        "v",
        None,
    ),
    (  # in prose: "the aws secret is wJalr…", "secret key: wJalr…"
        "aws_secret_key",
        re.compile(
            r"(?i:\bsecret|\baws\b)[^\n]{0,60}?(?<![A-Za-z0-9/+=])"
            r"(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        "v",
        lambda v: _looks_random(v),  # defined below
    ),
    ("github_token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b"), None, None),
    ("github_token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"), None, None),
    ("gitlab_token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}" + _TOKEN_END), None, None),
    ("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}" + _TOKEN_END), None, None),
    ("stripe_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b"), None, None),
    ("stripe_key", re.compile(r"\bwhsec_[A-Za-z0-9]{24,}\b"), None, None),
    (
        "openai_key",
        re.compile(r"\bsk-(?:proj|svcacct|admin)-(?P<v>[A-Za-z0-9_\-]{20,})" + _TOKEN_END),
        "v",
        _tokenish,
    ),
    ("openai_key", re.compile(r"\bsk-(?P<v>[A-Za-z0-9]{20,})" + _TOKEN_END), "v", _tokenish),
    (
        "slack_webhook",
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+"),
        None,
        None,
    ),
    ("slack_token", re.compile(r"\bxox[abprse]-[A-Za-z0-9\-]{10,}" + _TOKEN_END), None, None),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}" + _TOKEN_END), None, None),
    ("npm_token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), None, None),
    ("huggingface_token", re.compile(r"\bhf_[A-Za-z0-9]{34,}\b"), None, None),
    (
        "sendgrid_key",
        re.compile(r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _TOKEN_END),
        None,
        None,
    ),
    (
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,}"),
        None,
        None,
    ),
    (
        "url_password",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\[\]]+:(?P<v>[^\s@/]+)@[^\s/@]"),
        "v",
        _not_placeholder,
    ),
    (
        "bearer_token",
        re.compile(r"\b(?:Bearer|Basic|Token)\s+(?P<v>[A-Za-z0-9._~+/\-]{12,}=*)(?![\w.~+/\-])"),
        "v",
        _tokenish,
    ),
    (
        "password",
        re.compile(r"(?<![\w-])--?(?:password|passwd|pass)" + _FLAG_VALUE),
        "v",
        _not_plain,
    ),
    (
        "secret",
        re.compile(
            r"(?<![\w-])--(?:token|api-key|apikey|secret|client-secret|auth-token|access-token)"
            + _FLAG_VALUE
        ),
        "v",
        _not_plain,
    ),
    (  # curl -u user:password, --user, --proxy-user
        "password",
        re.compile(r"(?<![\w-])(?:-u|--user|--proxy-user)\s*[^\s:\-][^\s:]*:(?P<v>[^\s\"'`]+)"),
        "v",
        _not_placeholder,
    ),
    (  # mysql -pS3cret (no space: with one, -p asks for the password)
        "password",
        re.compile(
            r"\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n]*?\s-p(?P<v>[^\s\"'`]+)"
        ),
        "v",
        _not_placeholder,
    ),
    (  # docker login -p …, sshpass -p …
        "password",
        re.compile(r"\b(?:login\b[^\n]*?\s-p|sshpass\s+-p)\s*(?P<v>[^\s\"'`\-][^\s\"'`]*)"),
        "v",
        _not_placeholder,
    ),
]

_ASSIGNMENT = re.compile(
    r"(?<![\w.$])(?P<kq>[\"']?)(?P<key>[A-Za-z_][A-Za-z0-9_.\-]{0,63})(?P=kq)"
    r"(?P<sep>[ \t]*(?::=|=>|=|:)[ \t]*)"
    r"(?:(?P<vq>[\"'])(?P<qval>[^\"'\n]{1,500})(?P=vq)"
    r"|(?P<uval>[^\s\"'`,;(){}\[\]<>=:\\][^\s\"'`,;(){}\[\]<>\\]{0,499}))"
)

_SECRET_WORDS = {
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets", "token",
    "apikey", "auth", "authorization", "credential", "credentials", "privatekey",
    "secretkey", "accesskey", "apitoken", "authtoken",
}  # fmt: skip
_PASSWORD_WORDS = {"password", "passwd", "pwd", "pass", "passphrase"}
_GLUED = ("password", "passwd", "passphrase")  # the end of a key written as one word
_SECRET_PAIRS = {
    ("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
    ("client", "secret"), ("auth", "token"), ("session", "key"), ("signing", "key"),
    ("encryption", "key"), ("master", "key"), ("account", "key"), ("app", "key"),
}  # fmt: skip
# A trailing word that makes the key describe a secret rather than hold one.
_QUALIFIERS = {
    "url", "uri", "endpoint", "host", "hostname", "port", "path", "file", "filename", "dir",
    "type", "name", "id", "length", "len", "count", "limit", "size", "max", "min", "enabled",
    "disabled", "required", "mode", "method", "header", "field", "env", "var", "prefix",
    "suffix", "hint", "policy", "provider", "format", "kind", "version", "expiry", "expires",
    "ttl", "timeout", "hash", "label", "regex", "pattern", "store", "manager", "cmd",
    "command", "helper", "source", "location", "param", "input", "reset", "rotation",
    "budget", "limits", "usage", "estimate", "backend", "backends", "class", "module",
    "scheme", "strategy", "service", "handler", "middleware", "flow", "domain", "scope",
    "scopes", "audience", "issuer", "realm", "user", "username", "email", "plugin", "mechanism",
    "str", "text", "string", "ids", "index", "idx", "position", "pos", "offset", "score",
    "span", "start", "end", "time", "at", "response", "request", "error", "exception",
    "schema", "model", "models", "logprob", "logprobs", "counter", "stats",
}  # fmt: skip
_NOT_SECRET_KEYS = {
    "integrity", "checksum", "hash", "digest", "sha", "sha1", "sha256", "sha512", "etag",
    "commit", "revision", "rev", "id", "uuid", "version", "ref", "nonce", "key",
}  # fmt: skip
_PLAIN_VALUES = {
    "true", "false", "yes", "no", "none", "null", "nil", "on", "off", "required",
    "optional", "enabled", "disabled", "bearer", "basic", "oauth", "oauth2", "inherit",
    "string", "str", "bytes", "int", "number", "boolean", "bool", "any", "unknown",
    "secretstr", "redacted", "hidden", "masked", "default", "auto", "env", "value",
}  # fmt: skip
_PLACEHOLDER = re.compile(
    r"^(?:\$\{?.*|<.*|\[.*\]|\{.*\}|%\(.*|x{3,}|(?:os|process|env|settings|config)\..*"
    r"|.*(?:\.\.\.|…|\*\*\*).*)$",
    re.I,
)
_HASH_PREFIX = re.compile(r"^(?:sha(?:1|224|256|384|512)|md5)[-:]", re.I)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_WORD_RUNS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _key_parts(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key.lstrip("-"))
    return [p for p in re.split(r"[_.\-]+", spaced.lower()) if p]


def _secret_key_kind(key: str) -> str | None:
    """'password' or 'secret' when the key's name says it holds one, else None."""
    parts = _key_parts(key.rsplit(".", 1)[-1])  # `Token.Name.Builtin` is not a token
    if not parts or parts[-1] in _QUALIFIERS:
        return None
    glued = parts[-1].endswith(_GLUED)  # PGPASSWORD, REDISPASSWD
    named = (
        glued
        or any(p in _SECRET_WORDS for p in parts)
        or any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))
    )
    if not named:
        return None
    return "password" if glued or _PASSWORD_WORDS & set(parts) else "secret"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _looks_random(value: str) -> bool:
    """True for token-like strings; false for hashes, words, identifiers, paths and URLs."""
    if len(value) < 20 or len(value) > 500 or _HEX.match(value) or _UUID.match(value):
        return False
    if _HASH_PREFIX.match(value) or any(c in value for c in ".:@ ") or value[0] in "/~#":
        return False
    if "/" in value and ("-" in value or len(value) < 40):  # owner/model-name slugs
        return False
    classes = sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value),
         any(c.isdigit() for c in value))
    )  # fmt: skip
    if classes < 3 and not (classes == 2 and len(value) >= 32 and any(c.isdigit() for c in value)):
        return False
    runs = _WORD_RUNS.findall(value)
    if runs and len(value) / len(runs) >= 4:  # CamelCaseWordsLikeThis, snake_case_words
        return False
    return entropy(value) >= 3.5


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_WORDS = re.compile(r"[A-Za-z]+(?:[-_]+[A-Za-z]+)+")  # my-secret, X-Api-Key, refresh__token
_EXAMPLE = re.compile(r"secret|token|passw|key|example|dummy|fake|placeholder|your|changeme")
_TYPE_NAME = re.compile(r"[A-Z]\w*[a-z]\w*[A-Z][a-z]\w*")  # Ed25519PrivateKey, OAuthToken
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_SENTENCE = re.compile(r"[A-Z][a-z']*(?: [A-Za-z']+)+[.?!:]?")


def _plain(value: str) -> bool:
    """Values that cannot be a secret whatever the key says: flags, numbers, references,
    placeholders, paths, URLs, module names and user-facing sentences."""
    v = value.strip()
    return (
        len(v) < 4
        or v.lower() in _PLAIN_VALUES
        or bool(_PLACEHOLDER.match(v))
        or bool(_NUMBER.fullmatch(v))
        or v[0] in "/~"
        or v.startswith(("./", "http://", "https://"))
        or bool(_MARKER.search(v))
        or v.count("*") * 2 >= len(v)
        or bool(_DOTTED_NAME.fullmatch(v))
        or bool(_IDENTIFIER.fullmatch(v))
        or bool(_WORDS.fullmatch(v))
        or (v.isalpha() and v.islower() and bool(_EXAMPLE.search(v)))
        or bool(_SENTENCE.fullmatch(v))
    )


def _assignment(match: re.Match[str], counts: Counter[str]) -> str:
    key, value = match["key"], match["qval"] if match["vq"] else match["uval"]
    if key.upper() == "REDACTED" or value is None or _plain(value):
        return match[0]
    if not match["vq"] and match.string[match.end() : match.end() + 1] in ("(", "["):
        return match[0]  # a call or subscript: `token = b64encode(raw)`
    kind = _secret_key_kind(key)
    if kind and not match["vq"]:
        env_style = key.isupper() and match["sep"] == "="
        code_ref = re.fullmatch(r"[A-Za-z_][\w.]*", value) is not None and not _tokenish(value)
        annotation = match["sep"].strip() == ":" and _TYPE_NAME.fullmatch(value) is not None
        if (code_ref or annotation) and not env_style:  # `password: str`, `token = self.token`
            kind = None
    if kind is None:
        if set(_key_parts(key)) & _NOT_SECRET_KEYS or not _looks_random(value):
            return match[0]
        kind = "high_entropy"
    counts[kind] += 1
    start = match.start("qval" if match["vq"] else "uval") - match.start()
    return match[0][:start] + f"[REDACTED:{kind}]" + match[0][start + len(value) :]


def _replace(
    kind: str, group: str | None, check: Callable[[str], bool] | None, counts: Counter[str]
) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        if group is None:
            counts[kind] += 1
            return f"[REDACTED:{kind}]"
        value = m[group]
        if check is not None and not check(value):
            return m[0]
        if kind == "openai_key":  # the prefix says what the key is; redact all of it
            counts[kind] += 1
            return f"[REDACTED:{kind}]"
        counts[kind] += 1
        start, end = m.start(group) - m.start(), m.end(group) - m.start()
        return m[0][:start] + f"[REDACTED:{kind}]" + m[0][end:]

    return sub


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """The text with every secret replaced by `[REDACTED:<kind>]`, and counts per kind."""
    if not text:
        return text, {}
    counts: Counter[str] = Counter()
    for kind, pattern, group, check in _PATTERNS:
        text = pattern.sub(_replace(kind, group, check, counts), text)
    text = _ASSIGNMENT.sub(lambda m: _assignment(m, counts), text)
    return text, dict(counts)


def scan_text(text: str) -> dict[str, int]:
    """Counts of secrets per kind, for reporting without changing anything."""
    return redact_text(text)[1]


def add_counts(total: dict[str, int], counts: dict[str, int]) -> None:
    for kind, n in counts.items():
        total[kind] = total.get(kind, 0) + n


def redact_episode(ep: Episode) -> Episode:
    """The episode with secrets removed from its free text; `redactions` adds the new counts.

    Project, ids and timestamps are left alone: they are not free text and other records
    refer to them.
    """
    from memrl.episode import MAX_ITEM_CHARS, MAX_TAG_CHARS, MAX_TASK_CHARS

    found: dict[str, int] = {}

    def clean(text: str, limit: int = MAX_ITEM_CHARS) -> str:
        new, counts = redact_text(text)
        add_counts(found, counts)
        return new[:limit]  # a marker can be longer than the secret it replaced

    def clean_list(items: list[str], limit: int = MAX_ITEM_CHARS) -> list[str]:
        return [clean(item, limit) for item in items]

    update = {
        "task": clean(ep.task, MAX_TASK_CHARS),
        "summary": clean(ep.summary, len(ep.summary) + 10_000),
        "what_worked": clean_list(ep.what_worked),
        "what_failed": clean_list(ep.what_failed),
        "files": clean_list(ep.files),
        "commands": clean_list(ep.commands),
        "tags": clean_list(ep.tags, MAX_TAG_CHARS),
        "errors_resolved": [
            {"error": clean(e.error), "resolution": clean(e.resolution)} for e in ep.errors_resolved
        ],
    }
    if not found:
        return ep
    redactions = dict(ep.redactions)
    add_counts(redactions, found)
    data = ep.model_dump()
    data.update(update, redactions=redactions)
    return type(ep).model_validate(data)
