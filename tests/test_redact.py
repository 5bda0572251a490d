"""Secret redaction: every known format is removed, ordinary text is left exactly as it was.

The fake secrets are assembled from pieces so this file holds no scannable secret.
"""

from __future__ import annotations

import pytest

from memrl.episode import Episode, ErrorResolution
from memrl.redact import redact_episode, redact_text, scan_text

B62 = "q8Zt3LmN7pXv2RkW9yBc4Hd6Jf1Ga5Se0Uo"  # 35 chars, random-looking
AKIA = "AKIA" + "Q3ZT7LMN2XV9RKWB"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
GHP = "ghp_" + "a1B2" * 9
PEM_BODY = "MIIEpAIBAAKCAQEA" + "x7Kq2" * 12 + "\n" + "Zt3Lm" * 12 + "\n" + "AB12cd==" * 4


def pem(label: str) -> str:
    begin, end = "-----BEGIN ", "-----END "
    return f"{begin}{label}PRIVATE KEY-----\n{PEM_BODY}\n{end}{label}PRIVATE KEY-----"


def jwt() -> str:
    return "eyJ" + "hbGciOiJIUzI1NiJ9" + "." + "eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0" + "." + B62[:30]


# (id, text containing the secret, the secret itself, expected kind)
SECRETS: list[tuple[str, str, str, str]] = [
    ("aws-akia", f"export AWS_ACCESS_KEY_ID={AKIA}", AKIA, "aws_access_key"),
    ("aws-asia", "creds: ASIA" + "J7ZQ3LMN2XV9RKWB in the session", "ASIAJ7ZQ", "aws_access_key"),
    ("aws-secret", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "aws_secret_key"),
    ("aws-secret-prose", f"the aws secret is {AWS_SECRET} for now", AWS_SECRET, "aws_secret_key"),
    ("aws-secret-pair", f"key {AKIA}, secret: {AWS_SECRET}", AWS_SECRET, "aws_secret_key"),
    ("github-ghp", f"git clone https://x.com/r?t={GHP}", GHP, "github_token"),
    ("github-gho", "token gho_" + "Zz9y" * 9, "gho_" + "Zz9y" * 9, "github_token"),
    ("github-ghu", "ghu_" + "k3Lm" * 9 + " was rotated", "ghu_" + "k3Lm" * 9, "github_token"),
    ("github-ghs", "GH_TOKEN=ghs_" + "P0qR" * 9, "ghs_" + "P0qR" * 9, "github_token"),
    ("github-ghr", "refresh: ghr_" + "w8Xy" * 9, "ghr_" + "w8Xy" * 9, "github_token"),
    (
        "github-pat",
        "github_pat_" + "11ABCDEFG0" + "_" + "aB3dE" * 12,
        "github_pat_11ABCDEFG0",
        "github_token",
    ),
    ("gitlab", "glpat-" + "xY7z-Qw3Er5Ty9Ui1Op2", "glpat-xY7z", "gitlab_token"),
    (
        "anthropic",
        "ANTHROPIC_API_KEY=sk-ant-api03-" + "Ab3_" * 20,
        "sk-ant-api03-",
        "anthropic_key",
    ),
    ("openai-classic", "key: sk-" + "T3BlbkFJ" + B62[:40], "sk-T3BlbkFJ", "openai_key"),
    ("openai-proj", "OPENAI_API_KEY=sk-proj-" + "aB3dE_" * 8, "sk-proj-", "openai_key"),
    ("slack-bot", "SLACK=xoxb-" + "1234567890-0987654321-" + B62[:24], "xoxb-1234", "slack_token"),
    ("slack-user", "use xoxp-" + "2345678901-" + B62[:20], "xoxp-2345", "slack_token"),
    (
        "slack-webhook",
        "curl -X POST https://hooks.slack.com/services/T000/B000/" + B62[:24],
        "hooks.slack.com/services/T000",
        "slack_webhook",
    ),
    ("stripe-live", 'stripe.api_key = "sk_live_' + B62[:24] + '"', "sk_live_", "stripe_key"),
    ("stripe-restricted", "rk_live_" + B62[:24], "rk_live_", "stripe_key"),
    ("google", "https://maps.googleapis.com/api?key=AIza" + B62, "AIza" + B62, "google_api_key"),
    ("npm", "//registry.npmjs.org/:_authToken=npm_" + B62 + "X", "npm_" + B62, "npm_token"),
    ("rsa-key", pem("RSA "), PEM_BODY.split("\n")[1], "private_key"),
    ("openssh-key", "key file:\n" + pem("OPENSSH ") + "\nend", PEM_BODY[:20], "private_key"),
    ("ec-key", pem("EC "), "x7Kq2x7Kq2", "private_key"),
    ("pkcs8-key", pem(""), "AB12cd==", "private_key"),
    ("jwt", "Authorization header was " + jwt(), jwt(), "jwt"),
    (
        "db-url",
        "DATABASE_URL=postgres://admin:" + "Tr0ub4dor" + "@db.example.com:5432/app",
        "Tr0ub4dor",
        "url_password",
    ),
    ("redis-url", "redis://default:" + "s3cr3tPW" + "@cache:6379/0", "s3cr3tPW", "url_password"),
    (
        "bearer",
        "curl -H 'Authorization: Bearer " + B62[:28] + "' https://api.x.com",
        B62[:28],
        "bearer_token",
    ),
    ("env-password", "DB_PASSWORD=" + "letmein", "letmein", "password"),
    ("json-api-key", '{"api_key": "' + "abc123def" + '", "user": "bob"}', "abc123def", "secret"),
    ("yaml-secret", "client_secret: " + "9f8e7d6c-Pq", "9f8e7d6c-Pq", "secret"),
    ("python-kwarg", 'connect(host="db", password="' + "hunter2!" + '")', "hunter2!", "password"),
    ("cli-flag", "mysql -u root --password " + "Sup3rS3cret", "Sup3rS3cret", "password"),
    ("curl-user", "curl -u admin:" + "hunter2Sup3r https://ci/api", "hunter2Sup3r", "password"),
    ("mysql-p", "mysql -h db -u root -p" + "S3cretPassw0rd app", "S3cretPassw0rd", "password"),
    ("pg-env", "PGPASSWORD=" + "S3cretPassw0rd psql -h db", "S3cretPassw0rd", "password"),
    ("docker-login", "docker login -u bob -p " + "dckr_Pa55w0rd r.io", "dckr_Pa55w0rd", "password"),
    ("sshpass", "sshpass -p " + "Sup3rS3cret ssh deploy@web1", "Sup3rS3cret", "password"),
    ("high-entropy", "SESSION_SIGNATURE_SEED=" + B62[:26], B62[:26], "high_entropy"),
    ("huggingface", "HF=hf_" + B62[:34], "hf_" + B62[:34], "huggingface_token"),
]


@pytest.mark.parametrize(("name", "text", "secret", "kind"), SECRETS, ids=[s[0] for s in SECRETS])
def test_each_secret_format_is_redacted(name: str, text: str, secret: str, kind: str) -> None:
    redacted, counts = redact_text(text)
    assert secret not in redacted
    assert counts.get(kind) == 1, counts
    assert f"[REDACTED:{kind}]" in redacted


def test_url_password_keeps_user_and_host() -> None:
    text, _ = redact_text("postgres://admin:" + "Tr0ub4dor" + "@db.example.com:5432/app")
    assert text == "postgres://admin:[REDACTED:url_password]@db.example.com:5432/app"


def test_specific_pattern_wins_and_is_counted_once() -> None:
    text, counts = redact_text(f"GITHUB_TOKEN={GHP}")
    assert counts == {"github_token": 1}
    assert text == "GITHUB_TOKEN=[REDACTED:github_token]"


def test_several_secrets_in_one_text_are_all_counted() -> None:
    text, counts = redact_text(f"{AKIA} and {GHP} and again {GHP}")
    assert counts == {"aws_access_key": 1, "github_token": 2}
    assert AKIA not in text and GHP not in text


def test_private_span_multiline() -> None:
    raw = "keep this\n<private>my home address\nline two</private>\nand this"
    text, counts = redact_text(raw)
    assert text == "keep this\n[REDACTED:private]\nand this"
    assert counts == {"private": 1}


def test_unclosed_private_span_redacts_to_the_end() -> None:
    text, counts = redact_text("ok <private>everything after is hidden\nreally")
    assert text == "ok [REDACTED:private]"
    assert counts == {"private": 1}


def test_unterminated_private_key_block_is_still_redacted() -> None:
    cut = pem("RSA ").split("-----END")[0]
    text, counts = redact_text(cut)
    assert counts == {"private_key": 1}
    assert "x7Kq2" not in text


@pytest.mark.parametrize(("name", "text", "secret", "kind"), SECRETS, ids=[s[0] for s in SECRETS])
def test_redaction_is_idempotent(name: str, text: str, secret: str, kind: str) -> None:
    once, _ = redact_text(text)
    twice, counts = redact_text(once)
    assert twice == once
    assert counts == {}


ORDINARY = [
    "def validate_return_url(url: str) -> bool:",
    "def login(username: str, password: str) -> bool:",
    "token = os.environ['GITHUB_TOKEN']",
    "password = getpass.getpass('Password: ')",
    "client = anthropic.Anthropic(api_key=api_key, timeout=8.0)",
    "response = client.messages.create(model=model, max_tokens=300, messages=msgs)",
    "if not token:\n    raise ValueError('missing token')",
    "secret_key: SecretStr = Field(default=None)",
    "const password = process.env.DB_PASSWORD;",
    "headers = {'Authorization': f'Bearer {token}'}",
    "auth_backend = 'django.contrib.auth.backends.ModelBackend'",
    '"forgot_password": "Forgot your password?"',
    "PASSWORD_MIN_LENGTH = 8",
    "token_type: bearer",
    "/home/alice/projects/app/src/components/ButtonGroup.tsx",
    "C:\\Users\\bob\\AppData\\Local\\Programs\\Python\\Python311\\python.exe",
    "git checkout 8199be6f2c5e1d0a7b3c4d5e6f708192a3b4c5d6",
    "commit 3f9a2c1 fixed the flaky test",
    "Merge pull request #42 from acme/feature-x (a1b2c3d4e5f6)",
    "request id 123e4567-e89b-12d3-a456-426614174000 failed",
    "id: 550e8400-e29b-41d4-a716-446655440000",
    "sha256 8199be6f2c5e1d0a7b3c4d5e6f708192a3b4c5d68199be6f2c5e1d0a7b3c4d5e",
    "checksum=8199be6f2c5e1d0a7b3c4d5e6f708192a3b4c5d68199be6f2c5e1d0a7b3c4d5e",
    "image: python@sha256:8199be6f2c5e1d0a7b3c4d5e6f708192a3b4c5d68199be6f2c5e1d0a7b3c4d5e",
    '"integrity": "sha512-' + "Ab3+/x" * 14 + '=="',
    "https://github.com/acme/app/pull/42/files?diff=split#discussion_r123",
    "git@github.com:acme/app.git",
    "https://user@example.com/path is fine without a password",
    "Version 3.11.4 (tags/v3.11.4:d2340ef, Jun  7 2023) on linux",
    "numpy==1.26.4 pandas>=2.2,<3",
    "The base64 module encodes bytes; SGVsbG8gd29ybGQ is 'Hello world'.",
    "color: #a1b2c3; background-color: #FFF;",
    "DEBUG=true",
    "PORT=8080",
    "NODE_ENV=production",
    "PATH=/usr/bin:/bin:/usr/local/bin",
    "LOG_LEVEL=info",
    "TIMEOUT_SECONDS=30",
    "DATABASE_URL=postgres://localhost:5432/app",
    "AUTH_URL=https://auth.example.com/oauth/authorize",
    "PASSWORD_FILE=/run/secrets/db_password",
    "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
    "export ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY",
    "secrets: inherit",
    "max_tokens=300",
    "COMPONENT_NAME=UserProfileSettingsPanel",
    "node_id: MDQ6VXNlcjU4MzIzMQ==",
    "rotated the secret in commit 8199be6f2c5e1d0a7b3c4d5e6f708192a3b4c5d6",
    "aws s3 cp s3://acme-builds/releases/2024/ReleaseNotesV2 .",
    "the secret lives in src/components/AuthProviderConfig2024/index.ts",
    "The quick brown fox jumps over the lazy dog while the tests keep failing on CI, "
    "so we refactored the authentication module and rotated every token by hand.",
    "Basic internationalization support landed in 2.0.",
    "Use a Bearer token in the Authorization header.",
    "-----BEGIN CERTIFICATE----- is how a PEM certificate starts",
    "pytest -q tests/test_redact.py -k 'not slow' --maxfail=1",
    "docker run -e POSTGRES_USER=app -p 5432:5432 postgres:16-alpine",
    "sk-learn is not a package; use scikit-learn",
    "tokenizer = AutoTokenizer.from_pretrained(model_name)",
    "author: Jane Doe <jane@example.com>",
    "user_pass_rate: 0.95",
    'client = InferenceClient(api_key="hf_...")  # pass your token',
    'model="Xenova/ms-marco-MiniLM-L-6-v2",',
    "private_key: Ed25519PrivateKey | Ed448PrivateKey",
    'Token.Name.Builtin: "ansi_cyan",',
    "token = b64encode(userpass).decode()",
    '"auth_time": 1691672844,',
    'HEADER_ACCESS_TOKEN = "X-Xet-Access-Token"',
    'MASK_TOKEN = "[MASK]"',
    'secret="my-secret",',
    "postgres://user:pass@localhost:5432/db is the example DSN",
    '{"access_token": "hf_jwt_…", "token_type": "bearer", "expires_in": 3600}',
    "curl -u $USER:$TOKEN https://api.example.com",
    "mysql -u root -p app < dump.sql",
    "docker login -u bob --password-stdin registry.io",
    "ssh -p 2222 deploy@web1",
    "psql -U app -p 5432 -h db",
    "pip install -U pip:latest",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact_text(text) == (text, {})


def test_scan_text_counts_without_changing() -> None:
    text = f"{AKIA}\nDB_PASSWORD=letmein\n"
    assert scan_text(text) == {"aws_access_key": 1, "password": 1}
    assert scan_text("nothing here") == {}


def _episode(**kw) -> Episode:
    base = {
        "project": "acme/app",
        "session_id": "sess-1",
        "task": "Rotate the leaked key",
        "summary": "Rotated keys.",
    }
    return Episode(**(base | kw))


def test_redact_episode_cleans_every_free_text_field() -> None:
    ep = _episode(
        task=f"Why does {AKIA} fail?",
        summary=f"Replaced {GHP} in CI",
        what_worked=["set DB_PASSWORD=letmein in the vault"],
        what_failed=[f"export GH={GHP}"],
        errors_resolved=[ErrorResolution(error=f"403 for {AKIA}", resolution="new key")],
        files=["config/.env"],
        commands=["psql postgres://app:" + "Tr0ub4dor" + "@db/app"],
        tags=["aws"],
    )
    out = redact_episode(ep)
    dumped = out.model_dump_json()
    for secret in (AKIA, GHP, "letmein", "Tr0ub4dor"):
        assert secret not in dumped
    assert out.redactions == {
        "aws_access_key": 2,
        "github_token": 2,
        "password": 1,
        "url_password": 1,
    }
    assert out.errors_resolved[0].resolution == "new key"
    assert out.files == ["config/.env"]


def test_redact_episode_leaves_identity_fields_alone() -> None:
    ep = _episode(summary=f"uses {GHP}")
    out = redact_episode(ep)
    assert (out.id, out.project, out.session_id, out.created_at, out.updated_at) == (
        ep.id,
        ep.project,
        ep.session_id,
        ep.created_at,
        ep.updated_at,
    )
    assert out.task == ep.task
    assert out.summary == "uses [REDACTED:github_token]"


def test_redact_episode_merges_existing_counts() -> None:
    ep = _episode(summary=f"uses {GHP}", redactions={"github_token": 2, "private": 1})
    out = redact_episode(ep)
    assert out.redactions == {"github_token": 3, "private": 1}
    assert ep.redactions == {"github_token": 2, "private": 1}  # the original is not mutated


def test_redact_episode_without_secrets_returns_it_unchanged() -> None:
    ep = _episode(commands=["pytest -q"], files=["src/app.py"])
    assert redact_episode(ep) is ep


def test_redact_episode_twice_counts_once() -> None:
    once = redact_episode(_episode(summary=f"uses {GHP}", tags=["xoxb-1234567890-abcdefghij"]))
    twice = redact_episode(once)
    assert twice.model_dump() == once.model_dump()
    assert once.redactions == {"github_token": 1, "slack_token": 1}


def test_marker_longer_than_secret_still_fits_the_item_limit() -> None:
    item = "x " * 991 + "PASSWORD=abcdefgh"  # 1,999 chars; 2,010 once redacted
    out = redact_episode(_episode(what_worked=[item]))
    assert len(out.what_worked[0]) <= 2000
    assert "abcdefgh" not in out.what_worked[0]
    assert out.redactions == {"password": 1}
