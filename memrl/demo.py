"""A demo store: realistic episodes, feedback and utility history, written like any writer would.

`seed_demo(memory)` replays a few months of work on four projects through the Memory
facade's public API — captures, retrievals in sessions (so temporal credit happens),
feedback, pinning and propagation — so that every view of memrl has something to show.
The timeline ends at `memory.now()`; with a fixed clock the result is the same every time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from memrl.learning.rules import DAY

if TYPE_CHECKING:
    from memrl.memory import Memory

HOUR = 3600.0


def demo_id(key: str) -> str:
    """A stable episode id for a demo episode, so screenshots and tests can name it."""
    return hashlib.md5(f"memrl-demo:{key}".encode()).hexdigest()


@dataclass(slots=True)
class Step:
    """One episode of the story, `days` before the end, with what happened around it."""

    key: str
    days: float
    project: str
    task_type: str
    outcome: str
    task: str
    summary: str
    worked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # retrieved in its session before capture
    rate: dict[str, bool] = field(default_factory=dict)  # feedback given after capture

    def data(self, created: float) -> dict:
        return {
            "id": demo_id(self.key),
            "created_at": datetime.fromtimestamp(created, UTC).isoformat(),
            "updated_at": datetime.fromtimestamp(created, UTC).isoformat(),
            "project": self.project,
            "task": self.task,
            "summary": self.summary,
            "outcome": self.outcome,
            "task_type": self.task_type,
            "what_worked": self.worked,
            "what_failed": self.failed,
            "errors_resolved": [{"error": e, "resolution": r} for e, r in self.errors],
            "files": self.files,
            "commands": self.commands,
            "tags": self.tags,
        }


# fmt: off
SHOP, BILL, INFRA, ETL = "acme/storefront", "acme/billing-api", "acme/infra", "acme/etl"
LEGACY = "acme/intranet"

STORY: list[Step] = [
    Step("bower", 140, LEGACY, "setup", "partial", "Install front-end packages with Bower",
         "Added bower.json for jQuery and Bootstrap 3 and committed bower_components; builds work offline.",
         commands=["bower install --save bootstrap#3"], tags=["bower", "frontend"]),
    Step("vagrant", 131, LEGACY, "setup", "success", "Local development VM with Vagrant",
         "A Vagrantfile with Ubuntu 16.04, Postgres 9.5 and Redis provisioned by shell scripts; first boot takes 12 minutes.",
         files=["Vagrantfile", "provision/setup.sh"], commands=["vagrant up --provision"], tags=["vagrant", "devenv"]),
    Step("py27-csv", 126, LEGACY, "bugfix", "partial", "UnicodeDecodeError reading the supplier CSV",
         "Python 2.7's csv module cannot read UTF-8 directly; decoding each cell by hand works for most suppliers.",
         errors=[("UnicodeDecodeError: 'ascii' codec can't decode byte 0xc3", "decode cells with .decode('utf-8')")],
         files=["etl/suppliers.py"], tags=["python2", "csv"]),
    Step("ie11", 104, SHOP, "bugfix", "partial", "Checkout button does nothing in IE11",
         "Added core-js polyfills for Promise and fetch; IE11 checkout works but the address autocomplete is still broken.",
         worked=["core-js/stable imported in the legacy entry point"],
         failed=["babel preset-env targets alone did not polyfill fetch"],
         errors=[("SCRIPT5009: 'Promise' is undefined", "import 'core-js/stable' in polyfills.ts")],
         files=["web/src/polyfills.ts", "web/babel.config.js"], tags=["ie11", "polyfill"],
         rate={"bower": False}),
    Step("jquery", 101, SHOP, "refactor", "failure", "Remove jQuery from the product gallery",
         "Tried to replace the jQuery carousel with a hand-written one; swipe handling regressed on iOS, reverted.",
         failed=["touchmove listeners without passive: true made scrolling janky"],
         files=["web/src/gallery/carousel.js"], tags=["jquery", "gallery"]),
    Step("celery-beat", 98, ETL, "setup", "success", "Schedule the nightly orders export",
         "Moved the nightly export from cron to an Airflow DAG with retries and an SLA alert.",
         worked=["schedule_interval='0 2 * * *' with catchup=False"],
         files=["dags/orders_export.py"], commands=["airflow dags test orders_export 2024-05-01"],
         tags=["airflow", "scheduling"]),
    Step("stripe-webhook", 92, BILL, "bugfix", "success", "Stripe webhooks rejected with 400 after deploy",
         "The signature check read the parsed JSON body; verifying against the raw request bytes fixed it.",
         worked=["await request.body() before any JSON parsing", "stripe.Webhook.construct_event with the raw payload"],
         errors=[("stripe.error.SignatureVerificationError: No signatures found matching the expected signature for payload",
                  "verify the raw body, not the re-serialised JSON")],
         files=["billing/webhooks.py", "tests/test_webhooks.py"], commands=["stripe listen --forward-to localhost:8000/webhooks"],
         tags=["stripe", "webhooks"]),
    Step("pg-deadlock", 88, BILL, "debug", "success", "Deadlocks when two invoices are paid at once",
         "Both transactions locked customer then invoice in different orders; taking SELECT … FOR UPDATE on the customer first removed the deadlock.",
         worked=["consistent lock order: customer row, then invoice rows"],
         errors=[("psycopg.errors.DeadlockDetected: deadlock detected", "lock the customer row first in both code paths")],
         files=["billing/payments.py"], tags=["postgres", "locking"]),
    Step("tf-state", 84, INFRA, "setup", "success", "Move Terraform state to S3 with locking",
         "Migrated local state to an S3 backend with a DynamoDB lock table; CI now plans against the shared state.",
         worked=["terraform init -migrate-state", "one lock table per account"],
         files=["infra/backend.tf"], commands=["terraform init -migrate-state"], tags=["terraform"],
         queries=["terraform remote state locking"]),
    Step("pandas-dtype", 80, ETL, "bugfix", "success", "Order totals off by a cent in the export",
         "Totals were summed as float64; reading amounts as Decimal strings and summing in cents fixed the rounding.",
         worked=["dtype={'amount': str} then Decimal"], failed=["round(x, 2) after summing floats"],
         files=["etl/orders/transform.py"], tags=["pandas", "money"],
         queries=["checkout button broken in old browsers polyfill"]),
    Step("next-images", 74, SHOP, "feature", "success", "Serve product images through next/image",
         "Replaced <img> tags with next/image and a custom loader for the CDN; LCP on product pages fell from 3.9 s to 2.1 s.",
         worked=["a custom loader that appends width and quality to the CDN URL"],
         errors=[("Error: Invalid src prop on `next/image`, hostname is not configured", "add the CDN host to images.remotePatterns")],
         files=["web/next.config.js", "web/src/components/ProductImage.tsx"], tags=["nextjs", "performance"]),
    Step("k8s-oom", 70, INFRA, "debug", "success", "Billing pods OOMKilled during month-end runs",
         "Month-end invoice generation loaded every customer at once; streaming with yield_per(500) and raising the limit to 768Mi stopped the kills.",
         worked=["SQLAlchemy yield_per for the invoice query"],
         errors=[("OOMKilled (exit code 137) in billing-worker", "stream rows with yield_per and set memory limit 768Mi")],
         files=["k8s/billing-worker.yaml", "billing/invoices.py"], commands=["kubectl top pods -n billing"],
         tags=["kubernetes", "memory"], queries=["pods killed out of memory kubernetes"]),
    Step("flaky-e2e", 66, SHOP, "test", "partial", "Playwright checkout test fails one run in five",
         "Waiting for the network to go idle was racing the cart API; waiting for the cart badge text fixed most failures, one remains on Safari.",
         worked=["await expect(page.getByTestId('cart-count')).toHaveText('1')"],
         failed=["page.waitForTimeout(500)"],
         files=["e2e/checkout.spec.ts"], commands=["npx playwright test --repeat-each 20"], tags=["playwright", "flaky"],
         queries=["flaky end to end test checkout"]),
    Step("alembic-index", 62, BILL, "feature", "success", "Add an index on invoices.customer_id without downtime",
         "Wrote the Alembic migration with CREATE INDEX CONCURRENTLY outside the transaction; the invoice list query went from 800 ms to 9 ms.",
         worked=["op.get_context().autocommit_block()", "postgresql_concurrently=True"],
         errors=[("CREATE INDEX CONCURRENTLY cannot run inside a transaction block", "wrap it in autocommit_block()")],
         files=["migrations/versions/4f2a_invoice_customer_idx.py"], commands=["alembic upgrade head"],
         tags=["postgres", "alembic", "migration"], queries=["postgres deadlock invoices"],
         rate={"pg-deadlock": True}),
    Step("gha-cache", 58, INFRA, "setup", "success", "Speed up CI with dependency caching",
         "Cached ~/.cache/pip and node_modules keyed on the lockfiles; CI went from 14 to 6 minutes.",
         worked=["actions/cache keyed on hashFiles('**/poetry.lock')"],
         files=[".github/workflows/ci.yml"], tags=["ci", "github-actions"],
         queries=["terraform state in s3"], rate={"tf-state": True}),
    Step("airflow-backfill", 55, ETL, "debug", "failure", "Backfill of March duplicates rows",
         "The export appends on every retry; a backfill re-ran failed tasks and duplicated 1,200 orders. Not fixed yet.",
         failed=["clearing tasks in the UI re-ran the appends"],
         files=["dags/orders_export.py"], commands=["airflow dags backfill -s 2024-03-01 -e 2024-03-31 orders_export"],
         tags=["airflow", "idempotency"], queries=["airflow dag retries schedule"],
         rate={"celery-beat": False}),
    Step("etl-idempotent", 50, ETL, "bugfix", "success", "Make the orders export idempotent",
         "Each run now writes to a staging table and swaps partitions with MERGE on order_id, so retries and backfills cannot duplicate rows.",
         worked=["MERGE INTO … USING staging ON order_id", "one partition per logical date"],
         errors=[("duplicate key value violates unique constraint \"orders_pkey\"", "MERGE instead of INSERT")],
         files=["dags/orders_export.py", "etl/orders/load.py"], tags=["airflow", "idempotency"],
         queries=["backfill duplicates rows airflow"], rate={"airflow-backfill": True}),
    Step("i18n-dates", 47, SHOP, "bugfix", "success", "Dates show in US format for German shoppers",
         "Formatted dates with Intl.DateTimeFormat using the shop locale instead of toLocaleDateString() without arguments.",
         files=["web/src/lib/format.ts"], tags=["i18n"]),
    Step("rate-limit", 44, BILL, "feature", "success", "Rate-limit the public invoices API",
         "Added a Redis token bucket per API key (100 requests/minute) with Retry-After headers.",
         worked=["INCR + EXPIRE in a Lua script for atomicity"], files=["billing/ratelimit.py"],
         tags=["redis", "api"], queries=["stripe webhook signature"], rate={"stripe-webhook": True}),
    Step("webhook-retry", 41, BILL, "bugfix", "success", "Stripe webhook events processed twice",
         "Stripe retries webhooks that time out; storing processed event ids in a unique table and skipping repeats made handling idempotent.",
         worked=["INSERT … ON CONFLICT DO NOTHING on stripe_events.event_id"],
         files=["billing/webhooks.py"], tags=["stripe", "webhooks", "idempotency"],
         queries=["stripe webhook events duplicated"], rate={"stripe-webhook": True}),
    Step("webhook-retry-2", 39, BILL, "bugfix", "success", "Stripe webhook events processed twice",
         "Stripe retries webhooks that time out; we store processed event ids in a unique table and skip repeats, so handling is idempotent.",
         worked=["INSERT … ON CONFLICT DO NOTHING on stripe_events.event_id"],
         files=["billing/webhooks.py"], tags=["stripe", "webhooks"]),
    Step("helm-rollback", 36, INFRA, "debug", "success", "Helm upgrade stuck in pending-upgrade",
         "A cancelled deploy left the release locked; helm rollback to the last good revision unlocked it.",
         errors=[("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
                  "helm rollback billing <last-good-revision>")],
         commands=["helm history billing -n billing", "helm rollback billing 41 -n billing"],
         tags=["helm", "kubernetes"], queries=["kubernetes pods out of memory"], rate={"k8s-oom": True}),
    Step("cart-race", 33, SHOP, "bugfix", "success", "Cart count wrong after quick double-click",
         "Two add-to-cart requests raced; disabling the button while the mutation is pending and using the server's count fixed it.",
         worked=["useMutation isPending to disable the button"], files=["web/src/components/AddToCart.tsx"],
         tags=["react", "race-condition"], queries=["flaky checkout test cart badge"], rate={"flaky-e2e": True}),
    Step("dark-mode", 30, SHOP, "feature", "success", "Dark mode for the storefront",
         "CSS variables for colours, a prefers-color-scheme default and a toggle stored in localStorage; no flash on load thanks to an inline script.",
         files=["web/src/styles/theme.css", "web/src/app/layout.tsx"], tags=["css", "theme"]),
    Step("pytest-xdist", 27, BILL, "test", "success", "Test suite takes 11 minutes",
         "Ran the suite with pytest-xdist and one Postgres database per worker; 11 minutes down to 3.",
         worked=["a session fixture creating test_db_{worker_id}"],
         failed=["sharing one database between workers deadlocked"],
         commands=["pytest -n auto"], files=["tests/conftest.py"], tags=["pytest", "ci"],
         queries=["speed up ci caching"], rate={"gha-cache": True}),
    Step("tf-drift", 24, INFRA, "debug", "partial", "Terraform plan shows drift on every run",
         "The security group rules were also managed by hand in the console; imported two of them, one still flaps.",
         commands=["terraform import aws_security_group_rule.https sg-0a1b_ingress_tcp_443_443_0.0.0.0/0"],
         tags=["terraform", "drift"], queries=["terraform state locking s3"], rate={"tf-state": True}),
    Step("sentry-noise", 21, BILL, "setup", "success", "Sentry flooded with client disconnect errors",
         "Ignored ClientDisconnect in before_send and sampled transactions at 10 %; error volume dropped by 90 %.",
         files=["billing/observability.py"], tags=["sentry", "observability"]),
    Step("pandas-memory", 18, ETL, "refactor", "success", "Export job needs 6 GB of RAM",
         "Read the source in 100k-row chunks with categorical dtypes for status and country; peak memory 6 GB → 900 MB.",
         worked=["pd.read_sql(..., chunksize=100_000)", "astype('category') for low-cardinality columns"],
         files=["etl/orders/extract.py"], tags=["pandas", "memory"],
         queries=["order totals rounding decimal", "out of memory large query"],
         rate={"pandas-dtype": True, "k8s-oom": True}),
    Step("csp", 15, SHOP, "feature", "partial", "Add a Content-Security-Policy",
         "Report-only CSP with nonces for inline scripts; the payment iframe still needs its domain allow-listed before enforcing.",
         failed=["'unsafe-inline' kept the dark-mode script working but defeats the point"],
         files=["web/src/middleware.ts"], tags=["security", "csp"], queries=["dark mode flash inline script"],
         rate={"dark-mode": True}),
    Step("invoice-pdf", 13, BILL, "feature", "success", "Generate invoice PDFs",
         "Rendered invoices with WeasyPrint from the HTML template; fonts embedded, A4 page size, 120 ms per invoice.",
         errors=[("OSError: cannot load library 'gobject-2.0-0'", "apt-get install libpango-1.0-0 in the Docker image")],
         files=["billing/pdf.py", "Dockerfile"], tags=["pdf", "weasyprint"]),
    Step("k8s-probes", 11, INFRA, "bugfix", "success", "Billing pods restarted during slow migrations",
         "The liveness probe killed pods while migrations ran at startup; moved migrations to a Job and added a startupProbe.",
         worked=["startupProbe with failureThreshold 30"], files=["k8s/billing.yaml", "k8s/migrate-job.yaml"],
         tags=["kubernetes", "probes"], queries=["helm upgrade stuck pending", "pods restarting during deploy"],
         rate={"helm-rollback": True, "k8s-oom": False}),
    Step("search-typo", 9, SHOP, "feature", "success", "Typo-tolerant product search",
         "Switched product search to Postgres trigram similarity with a GIN index; 'moutain bike' now finds mountain bikes.",
         worked=["CREATE EXTENSION pg_trgm", "similarity threshold 0.3"],
         files=["api/search.py", "migrations/0042_trgm.sql"], tags=["postgres", "search"],
         queries=["add index without downtime postgres"], rate={"alembic-index": True}),
    Step("dbt-tests", 7, ETL, "test", "success", "Catch bad rows before they reach the warehouse",
         "Added dbt not_null and unique tests on order_id and an accepted_values test on status; the nightly run fails fast now.",
         files=["models/orders/schema.yml"], commands=["dbt test --select orders"], tags=["dbt", "data-quality"],
         queries=["export duplicates idempotent merge"], rate={"etl-idempotent": True}),
    Step("refund-rounding", 6, BILL, "bugfix", "success", "Partial refunds off by one cent",
         "Refund amounts were computed in float; switched to integer cents end to end and added a property test.",
         worked=["hypothesis test over random refund splits"], files=["billing/refunds.py"],
         tags=["money", "hypothesis"], queries=["rounding error cents decimal"],
         rate={"pandas-dtype": True}),
    Step("tf-modules", 5, INFRA, "refactor", "success", "Split the Terraform root into modules",
         "Moved network, database and cluster into modules with explicit outputs; plan time 4 min → 50 s.",
         commands=["terraform state mv module.old.aws_db_instance.main module.database.aws_db_instance.main"],
         tags=["terraform", "modules"], queries=["terraform drift security group"]),
    Step("lcp", 4, SHOP, "feature", "success", "Preload the hero image",
         "Added fetchpriority=high and a preload link for the hero image; LCP 2.1 s → 1.4 s on 4G.",
         files=["web/src/app/page.tsx"], tags=["performance", "nextjs"],
         queries=["product images slow lcp"], rate={"next-images": True}),
    Step("airflow-sla", 3, ETL, "bugfix", "success", "SLA miss emails never arrive",
         "The DAG had sla set on the DAG args instead of the task; SLA callbacks fire now and page the on-call channel.",
         files=["dags/orders_export.py"], tags=["airflow", "alerting"], queries=["airflow schedule nightly export"]),
    Step("webhook-timeout", 2, BILL, "debug", "partial", "Webhook handler times out under load",
         "Moved invoice emails out of the webhook handler into a background task; p99 down from 9 s to 1.2 s, still one timeout a day.",
         tags=["stripe", "performance"], queries=["stripe webhooks processed twice idempotent", "webhook signature raw body"]),
    Step("oauth-redirect", 1.5, SHOP, "bugfix", "success", "Login redirects to an external site",
         "The next parameter was trusted as is; validating it against relative paths closed the open redirect.",
         errors=[("open redirect via /login?next=https://evil.example", "only accept paths that start with a single /")],
         files=["web/src/app/login/route.ts"], tags=["security", "auth"], queries=["content security policy nonce"]),
    Step("db-pool", 1, BILL, "debug", "success", "Too many connections during traffic spikes",
         "Put PgBouncer in transaction mode in front of Postgres and cut the app pool to 5 per pod.",
         errors=[("FATAL: sorry, too many clients already", "PgBouncer transaction pooling")],
         files=["k8s/pgbouncer.yaml", "billing/db.py"], tags=["postgres", "pgbouncer"],
         queries=["postgres connections exhausted", "deadlock when paying invoices"],
         rate={"rate-limit": False}),
    Step("grafana", 0.6, INFRA, "setup", "unknown", "Dashboard for billing latency",
         "Started a Grafana dashboard with p50/p99 latency per endpoint from the Prometheus histograms.",
         tags=["grafana", "observability"], queries=["sentry noise sampling"]),
    Step("etl-schema", 0.3, ETL, "research", "unknown", "Evaluate schema registry for order events",
         "Compared a schema registry with JSON schema files in the repo; leaning to the files for now.",
         tags=["schemas"], queries=["dbt tests data quality orders", "pandas memory chunks"]),
]
# fmt: on

PINNED = ("stripe-webhook",)
PROPAGATE_AT = (60.0, 20.0, 0.2)  # days before the end when a full propagation ran


def seed_demo(memory: Memory, progress: Callable[[int, int], None] | None = None) -> int:
    """Replay the story into `memory` (best an empty store); returns the number of episodes."""
    end = memory.now()
    real_clock = memory.clock
    now = {"t": end}
    memory.clock = lambda: now["t"]
    try:
        pending = sorted(PROPAGATE_AT, reverse=True)
        for n, step in enumerate(sorted(STORY, key=lambda s: -s.days)):
            created = end - step.days * DAY
            while pending and pending[0] > step.days:
                now["t"] = end - pending.pop(0) * DAY
                memory.learning.propagate()
            session = f"demo-{step.key}"
            for k, query in enumerate(step.queries):
                now["t"] = created - (len(step.queries) - k) * 0.4 * HOUR
                memory.search(
                    query, limit=3, project=step.project, session_id=session, origin="mcp", log=True
                )
            now["t"] = created
            memory.capture(step.data(created), source="mcp", session_id=session)
            if step.rate:
                now["t"] = created + 0.2 * HOUR
                for key, helpful in step.rate.items():
                    memory.learning.feedback([demo_id(key)], helpful)
            if progress:
                progress(n + 1, len(STORY))
        for days in pending:
            now["t"] = end - days * DAY
            memory.learning.propagate()
        now["t"] = end - 0.1 * DAY
        memory.set_pinned([demo_id(k) for k in PINNED], True)
    finally:
        memory.clock = real_clock
    return len(STORY)
