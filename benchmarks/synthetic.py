"""Synthetic but varied episodes for benchmarks: realistic lengths, many projects, no repeats."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

VERBS = [
    "Fix",
    "Add",
    "Refactor",
    "Speed up",
    "Debug",
    "Document",
    "Test",
    "Migrate",
    "Harden",
    "Remove",
    "Upgrade",
    "Investigate",
    "Simplify",
    "Cache",
    "Retry",
    "Validate",
]
PARTS = [
    "login redirect",
    "payment webhook",
    "search index",
    "CSV export",
    "image upload",
    "session cookie",
    "rate limiter",
    "email queue",
    "GraphQL resolver",
    "cron scheduler",
    "feature flags",
    "audit log",
    "OAuth callback",
    "websocket reconnect",
    "PDF renderer",
    "dark mode toggle",
    "i18n strings",
    "S3 presigned URLs",
    "Kafka consumer",
    "Redis cache",
    "Postgres migration",
    "Docker build",
    "CI pipeline",
    "Helm chart",
    "React table",
    "pagination cursor",
    "password reset",
    "2FA enrolment",
    "billing invoices",
    "API client",
    "retry policy",
    "config loader",
    "logging format",
    "metrics exporter",
    "tokenizer",
    "date parsing",
    "timezone handling",
    "file watcher",
    "plugin loader",
    "CLI parser",
]
SYMPTOMS = [
    "after the 2.0 upgrade",
    "under load",
    "on Safari",
    "for unicode names",
    "when the token expires",
    "in the nightly job",
    "on cold start",
    "with large files",
    "behind the proxy",
    "in the test suite",
    "for archived users",
    "on Windows paths",
    "during deploys",
    "with empty input",
    "after a timeout",
    "in production only",
]
FIXES = [
    "validated the input at the boundary",
    "added a retry with exponential backoff",
    "replaced the regex with a parser",
    "moved the work to a background job",
    "pinned the dependency version",
    "added an index on the foreign key",
    "normalised the path before comparing",
    "cached the result for five minutes",
    "wrote a regression test first",
    "used a transaction around both writes",
    "switched to streaming instead of loading everything",
    "escaped the HTML output",
    "set an explicit timeout on the client",
    "deduplicated events by id",
]
ERRORS = [
    "TypeError: cannot read properties of undefined",
    "psycopg.errors.UniqueViolation",
    "ECONNRESET",
    "ModuleNotFoundError: No module named 'yaml'",
    "HTTP 429 Too Many Requests",
    "OOMKilled",
    "ValueError: invalid literal for int()",
    "SSL: CERTIFICATE_VERIFY_FAILED",
    "deadlock detected",
    "KeyError: 'user_id'",
    "ERR_OSSL_EVP_UNSUPPORTED",
    "Segmentation fault",
]
PROJECTS = [
    f"acme/{name}"
    for name in (
        "web",
        "api",
        "billing",
        "mobile",
        "infra",
        "search",
        "data",
        "auth",
        "docs",
        "cli",
    )
]
OUTCOMES = ["success"] * 6 + ["partial"] * 2 + ["failure", "unknown"]


def episodes(n: int, seed: int = 7) -> Iterator[dict]:
    rnd = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)  # 100k episodes 5 min apart end within 2025
    for i in range(n):
        verb, part, symptom = rnd.choice(VERBS), rnd.choice(PARTS), rnd.choice(SYMPTOMS)
        fix, other = rnd.choice(FIXES), rnd.choice(FIXES)
        ep = {
            "id": f"{rnd.getrandbits(128):032x}",
            "created_at": (start + timedelta(minutes=5 * i)).isoformat(),
            "project": rnd.choice(PROJECTS),
            "task": f"{verb} {part} {symptom} (#{i})",
            "summary": f"{verb} the {part} {symptom}: {fix}, then {other}. Ticket {i}.",
            "outcome": rnd.choice(OUTCOMES),
            "what_worked": [fix],
            "files": [
                f"src/{part.replace(' ', '_').lower()}/{rnd.choice(['core', 'api', 'io'])}.py"
            ],
            "tags": [part.split()[0].lower()],
        }
        if rnd.random() < 0.3:
            ep["errors_resolved"] = [{"error": rnd.choice(ERRORS), "resolution": other}]
        yield ep


def jsonl(n: int, seed: int = 7) -> Iterator[str]:
    for ep in episodes(n, seed):
        yield json.dumps(ep)


def queries(n: int, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    forms = ["how did we fix the {p} {s}", "{p} broken {s}", "{e}", "problem with {p}", "{v} {p}"]
    out = []
    for _ in range(n):
        out.append(
            rnd.choice(forms).format(
                p=rnd.choice(PARTS),
                s=rnd.choice(SYMPTOMS),
                e=rnd.choice(ERRORS),
                v=rnd.choice(VERBS).lower(),
            )
        )
    return out
