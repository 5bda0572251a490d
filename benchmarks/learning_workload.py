"""Task families for the learning benchmark.

Each family is a recurring problem. Its *solvers* are episodes that truly fixed it; its
*decoys* look alike — failed attempts and outdated fixes that restate the symptom, so
similarity alone often prefers them. Queries are paraphrases a developer would type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    symptom: str
    queries: tuple[str, ...]
    fixes: tuple[str, ...]  # what truly worked
    traps: tuple[str, ...]  # what looked right and did not help


FAMILIES = [
    Family(
        "flaky-login",
        "the login end-to-end test fails intermittently on CI",
        (
            "login e2e test is flaky in CI",
            "why does the login test fail randomly",
            "intermittent failure in login browser test",
            "CI login spec passes locally fails remotely",
            "flaky sign in test",
        ),
        (
            "wait for the session cookie before asserting the dashboard",
            "mock the clock so the token expiry is deterministic",
            "run the login test against a fresh database per worker",
        ),
        (
            "added sleep(5) before the login assertion",
            "retried the login test three times in CI",
            "increased the global test timeout to 120 seconds",
            "disabled parallel test workers",
            "upgraded the browser driver",
            "marked the login test as skip on CI",
        ),
    ),
    Family(
        "pg-deadlock",
        "Postgres reports deadlock detected when two orders update inventory",
        (
            "deadlock detected in postgres during checkout",
            "two transactions deadlock on inventory rows",
            "postgres deadlock when orders are placed concurrently",
            "checkout fails with deadlock error",
            "inventory update deadlocks",
        ),
        (
            "lock inventory rows in a consistent order by product id",
            "use SELECT FOR UPDATE on the product rows at the start of the transaction",
            "move the stock decrement into one UPDATE with a WHERE stock >= qty",
        ),
        (
            "raised the lock_timeout setting",
            "added a retry loop around the whole checkout",
            "switched the isolation level to SERIALIZABLE",
            "increased max_connections",
            "added an index on orders.created_at",
            "restarted the database server",
        ),
    ),
    Family(
        "oom-worker",
        "the background worker is OOMKilled while exporting large reports",
        (
            "worker pod killed for out of memory during export",
            "OOMKilled report export job",
            "memory blows up exporting big CSV reports",
            "export worker crashes with out of memory",
            "large report export exceeds memory limit",
        ),
        (
            "stream rows from the database cursor instead of loading the whole result",
            "write the CSV incrementally to object storage in chunks",
            "paginate the export query by primary key ranges",
        ),
        (
            "raised the pod memory limit to 4Gi",
            "called gc.collect() after each batch",
            "switched the JSON library to orjson",
            "added swap to the node",
            "reduced worker concurrency to one",
            "compressed the report before writing it",
        ),
    ),
    Family(
        "cors",
        "the browser blocks API calls from the new frontend domain with a CORS error",
        (
            "CORS error calling the api from the new frontend",
            "No Access-Control-Allow-Origin header",
            "browser blocks cross origin request to backend",
            "preflight request fails with CORS",
            "fetch from app domain rejected by CORS policy",
        ),
        (
            "add the frontend origin to the allowed origins list in the API CORS middleware",
            "answer OPTIONS preflight requests before authentication",
            "send Access-Control-Allow-Credentials and an explicit origin instead of the wildcard",
        ),
        (
            "set mode no-cors on the fetch call",
            "disabled web security in the browser for testing",
            "proxied requests through a public CORS proxy",
            "added the header on the frontend request",
            "changed the API port",
            "cleared the browser cache",
        ),
    ),
    Family(
        "timezone",
        "scheduled reports are sent an hour late after daylight saving time changes",
        (
            "reports arrive one hour late since DST",
            "daylight saving broke the scheduler",
            "cron jobs shifted by an hour after clocks changed",
            "timezone bug in report schedule",
            "scheduled emails wrong hour after summer time",
        ),
        (
            "store schedules in the user's IANA timezone and compute the next run with zoneinfo",
            "convert to UTC only at execution time, never when saving the schedule",
            "add tests for the DST transition dates",
        ),
        (
            "added one hour offset manually in March",
            "set the server timezone to Europe/Berlin",
            "stored all times as naive datetimes",
            "restarted the scheduler after the change",
            "used time.localtime in the cron parser",
            "moved the report to run at noon",
        ),
    ),
    Family(
        "n-plus-one",
        "the orders page is slow because it runs one query per order line",
        (
            "orders page slow many sql queries",
            "N+1 queries on the order list view",
            "order history endpoint makes hundreds of queries",
            "ORM lazy loading makes orders slow",
            "speed up order list page database",
        ),
        (
            "eager load order lines with select_related and prefetch_related",
            "fetch the lines in one query keyed by order id and join in memory",
            "add a query count assertion test for the orders view",
        ),
        (
            "added a cache in front of the whole page",
            "increased the database pool size",
            "moved the database to a bigger instance",
            "added an index on order_lines.sku",
            "paginated the page to ten orders",
            "rewrote the template loop",
        ),
    ),
    Family(
        "jwt-expiry",
        "users are logged out randomly because access tokens expire mid-session",
        (
            "users get logged out randomly",
            "access token expires while user is active",
            "session drops after fifteen minutes",
            "jwt expired error during normal use",
            "random logouts in the web app",
        ),
        (
            "refresh the access token silently with the refresh token before it expires",
            "retry the failed request once after a token refresh on 401",
            "share one in-flight refresh between parallel requests",
        ),
        (
            "increased the token lifetime to 30 days",
            "stored the jwt in localStorage",
            "disabled signature verification on expired tokens",
            "synced the server clocks with ntp",
            "logged the user in again on every page load",
            "removed the exp claim",
        ),
    ),
    Family(
        "docker-cache",
        "the Docker image rebuilds all dependencies on every small code change",
        (
            "docker build slow reinstalls dependencies every time",
            "layer cache invalidated on each commit",
            "image build takes ten minutes for a one line change",
            "docker not caching pip install",
            "speed up docker image build",
        ),
        (
            "copy only the lock file and install dependencies before copying the source",
            "use a BuildKit cache mount for the package manager cache",
            "add a .dockerignore so test artifacts do not bust the cache",
        ),
        (
            "switched to an alpine base image",
            "ran docker system prune before builds",
            "used --no-cache on every build",
            "split the Dockerfile into five stages",
            "moved the build to a bigger CI runner",
            "pinned the base image digest",
        ),
    ),
    Family(
        "unicode-csv",
        "CSV import garbles names with accents and emoji",
        (
            "accented names broken after csv import",
            "utf-8 characters corrupted in uploaded csv",
            "emoji in csv become question marks",
            "excel csv import mojibake",
            "csv upload breaks unicode names",
        ),
        (
            "detect and decode the UTF-8 BOM and Excel's UTF-16 exports explicitly",
            "open uploads with encoding utf-8-sig and report undecodable rows",
            "normalise names to NFC before storing",
        ),
        (
            "stripped all non-ascii characters",
            "set the database collation to latin1",
            "asked users to save as plain text",
            "encoded everything as base64",
            "used errors='ignore' when decoding",
            "changed the csv delimiter to semicolon",
        ),
    ),
    Family(
        "memory-leak-node",
        "the Node API's memory grows until it restarts every few hours",
        (
            "node server memory keeps growing",
            "memory leak in express api",
            "heap grows until the process restarts",
            "nodejs api leaks memory over time",
            "api restarts every few hours heap out of memory",
        ),
        (
            "remove the per-request event listener that was never detached",
            "bound the in-memory LRU cache by size instead of letting it grow",
            "take heap snapshots and compare retained closures",
        ),
        (
            "raised --max-old-space-size to 8GB",
            "restarted the server nightly with cron",
            "upgraded Node to the latest version",
            "switched the logger",
            "added more replicas",
            "called global.gc every minute",
        ),
    ),
    Family(
        "slow-tests",
        "the Python test suite takes twenty minutes on CI",
        (
            "test suite too slow in CI",
            "pytest takes twenty minutes",
            "speed up slow python tests",
            "CI pipeline waits on tests forever",
            "tests slow because of database setup",
        ),
        (
            "run the suite in parallel with pytest-xdist and isolated databases",
            "reuse one migrated database template instead of migrating per test",
            "replace sleep-based waits with explicit events",
        ),
        (
            "removed half of the tests",
            "ran tests only on the main branch",
            "bought a faster CI plan",
            "turned off coverage",
            "merged all tests into one file",
            "cached the virtualenv",
        ),
    ),
    Family(
        "k8s-crashloop",
        "the new deployment is stuck in CrashLoopBackOff after the config change",
        (
            "pod in crashloopbackoff after deploy",
            "kubernetes container keeps restarting",
            "deployment crash loop after config map change",
            "app crashes on start in k8s",
            "CrashLoopBackOff new release",
        ),
        (
            "read the previous container logs and fix the missing environment variable",
            "make the readiness probe point at the health endpoint with a startup delay",
            "mount the config map with the key name the app expects",
        ),
        (
            "deleted and recreated the namespace",
            "increased the CPU limit",
            "scaled replicas to ten",
            "rolled the nodes",
            "disabled the liveness probe forever",
            "changed the image tag to latest",
        ),
    ),
    Family(
        "rate-limit",
        "calls to the payments provider fail with HTTP 429 during the nightly sync",
        (
            "payments api returns 429 too many requests",
            "rate limited by provider nightly sync",
            "HTTP 429 when syncing payments",
            "sync job hits api rate limit",
            "too many requests error from payments",
        ),
        (
            "honour the Retry-After header with exponential backoff and jitter",
            "batch the sync into the provider's bulk endpoint",
            "use a token bucket limiter shared by all sync workers",
        ),
        (
            "added more sync workers",
            "rotated between several API keys",
            "retried immediately on 429",
            "moved the sync to the afternoon",
            "increased the HTTP timeout",
            "disabled the sync for a week",
        ),
    ),
    Family(
        "migration-lock",
        "a schema migration locked the users table and took the site down",
        (
            "migration locked users table",
            "alter table caused downtime",
            "site down during migration",
            "adding column blocks writes",
            "postgres migration table lock outage",
        ),
        (
            "add the column as nullable without a default, backfill in batches, then add the constraint",
            "create the index CONCURRENTLY outside the transaction",
            "set a short lock_timeout on migrations so they fail instead of blocking",
        ),
        (
            "ran the migration at night",
            "increased the statement timeout",
            "restarted the app after migrating",
            "used a bigger database instance",
            "put the site in maintenance mode every deploy",
            "disabled foreign keys",
        ),
    ),
    Family(
        "react-rerender",
        "the dashboard re-renders constantly and typing in the filter lags",
        (
            "react dashboard rerenders too often",
            "typing lag in filter input",
            "component renders hundreds of times",
            "slow react table on every keystroke",
            "dashboard input laggy",
        ),
        (
            "memoise the row component and pass stable callbacks with useCallback",
            "debounce the filter and keep the raw input state local",
            "virtualise the table so only visible rows render",
        ),
        (
            "moved all state to redux",
            "upgraded React",
            "removed the CSS animations",
            "wrapped everything in useMemo",
            "used a class component",
            "turned off strict mode",
        ),
    ),
    Family(
        "ssl-verify",
        "outbound requests fail with CERTIFICATE_VERIFY_FAILED inside the container",
        (
            "ssl certificate verify failed in docker",
            "CERTIFICATE_VERIFY_FAILED requests python",
            "https calls fail inside container",
            "python cannot verify ssl certificate",
            "certificate error only in the container",
        ),
        (
            "install the ca-certificates package in the image",
            "point REQUESTS_CA_BUNDLE at the corporate root certificate bundle",
            "update certifi and rebuild the image",
        ),
        (
            "set verify=False on every request",
            "changed the system clock",
            "switched to http",
            "downgraded openssl",
            "disabled hostname checking",
            "used a different DNS server",
        ),
    ),
    Family(
        "git-conflicts",
        "every release branch merge produces conflicts in the generated lock file",
        (
            "merge conflicts in lock file every release",
            "package lock conflicts when merging",
            "git conflict in generated lockfile",
            "release merge breaks on lock file",
            "lock file always conflicts",
        ),
        (
            "mark the lock file with a merge driver and regenerate it after merging",
            "merge main into release branches daily so drift stays small",
            "let a bot update dependencies on main only",
        ),
        (
            "deleted the lock file",
            "added the lock file to .gitignore",
            "always took ours",
            "squashed every branch into one commit",
            "froze dependencies forever",
            "rewrote history with force pushes",
        ),
    ),
    Family(
        "search-relevance",
        "site search returns old blog posts before the matching product",
        (
            "search shows old posts first",
            "product search relevance is bad",
            "exact product name not top result",
            "search ranking prefers blog posts",
            "irrelevant results in site search",
        ),
        (
            "boost exact matches on the product title field",
            "add a recency decay to blog documents only",
            "index product SKUs as keyword fields for exact lookup",
        ),
        (
            "increased the number of results per page",
            "reindexed everything nightly",
            "removed stop words from the index",
            "switched the search server",
            "sorted by date only",
            "added more synonyms for every word",
        ),
    ),
    Family(
        "email-bounces",
        "password reset emails land in spam or bounce for Outlook users",
        (
            "password reset email goes to spam",
            "outlook users not receiving reset emails",
            "transactional email bounces",
            "emails marked as spam",
            "reset mail not delivered",
        ),
        (
            "publish SPF, DKIM and DMARC records for the sending domain",
            "send from a verified subdomain with a consistent From address",
            "remove link shorteners from the email template",
        ),
        (
            "sent each email twice",
            "changed the email subject every day",
            "used a free email account",
            "added more images to the email",
            "asked users to whitelist us",
            "sent emails at night",
        ),
    ),
    Family(
        "float-money",
        "invoice totals are off by a cent because of floating point rounding",
        (
            "invoice total off by one cent",
            "rounding error in prices",
            "floating point money bug",
            "totals do not add up by a cent",
            "currency calculation imprecise",
        ),
        (
            "store amounts as integer cents and round once at the end",
            "use Decimal with ROUND_HALF_EVEN for tax calculations",
            "add property tests that line totals sum to the invoice total",
        ),
        (
            "rounded every intermediate value",
            "switched to double precision",
            "added 0.001 to totals",
            "hid the cents in the UI",
            "used float32 to save space",
            "fixed totals by hand",
        ),
    ),
    Family(
        "websocket-drop",
        "websocket connections drop every sixty seconds behind the load balancer",
        (
            "websocket disconnects every minute",
            "live updates stop after 60 seconds",
            "load balancer closes websocket",
            "ws connection dropped idle timeout",
            "socket reconnect loop",
        ),
        (
            "send application-level ping frames every 25 seconds",
            "raise the load balancer idle timeout for the websocket listener",
            "reconnect with backoff and resume from the last event id",
        ),
        (
            "switched to long polling everywhere",
            "increased the server thread pool",
            "disabled compression",
            "moved to a different port",
            "reloaded the page every minute",
            "used a bigger load balancer",
        ),
    ),
    Family(
        "i18n-plural",
        "translated strings show wrong plurals in Polish and Russian",
        (
            "wrong plural forms in polish",
            "russian translation plural bug",
            "plurals broken in translations",
            "i18n shows 5 file instead of plik\u00f3w",
            "pluralisation incorrect in some languages",
        ),
        (
            "use ICU MessageFormat plural rules instead of singular/plural pairs",
            "load CLDR plural categories for each locale",
            "add snapshot tests of plural strings for several counts",
        ),
        (
            "added an s for plurals",
            "hard-coded English plurals",
            "asked translators for one form",
            "removed counts from the messages",
            "used the German rules for all languages",
            "translated numbers as words",
        ),
    ),
    Family(
        "s3-403",
        "presigned S3 upload URLs return 403 SignatureDoesNotMatch",
        (
            "s3 presigned url 403",
            "SignatureDoesNotMatch on upload",
            "presigned upload forbidden",
            "browser upload to s3 fails signature",
            "s3 put returns access denied",
        ),
        (
            "sign the URL with the exact Content-Type the browser sends",
            "use the bucket's region endpoint when presigning",
            "sync the server clock, signatures expire with skew",
        ),
        (
            "made the bucket public",
            "used the root credentials",
            "regenerated the access keys",
            "disabled bucket encryption",
            "switched to a different bucket name",
            "uploaded through the API server",
        ),
    ),
    Family(
        "log-noise",
        "production logs are flooded with health check requests",
        (
            "logs full of health check lines",
            "too much noise in production logs",
            "health checks spam access log",
            "log volume too high",
            "filter health check requests from logs",
        ),
        (
            "exclude the health endpoint from access logging in the middleware",
            "sample repetitive info logs and keep all warnings",
            "route access logs and application logs to separate streams",
        ),
        (
            "turned off logging entirely",
            "raised the log level to critical",
            "deleted logs daily",
            "bought more log storage",
            "logged only on Mondays",
            "removed the health checks",
        ),
    ),
]

TRAINED = FAMILIES[:18]
HELD_OUT = FAMILIES[18:]


def episodes(family: Family) -> list[tuple[str, dict]]:
    """(role, episode) pairs: 3 solvers and 6 decoys that restate the symptom."""
    out = []
    for fix in family.fixes:
        out.append(
            (
                "solver",
                {
                    "task": f"Fix: {family.symptom}",
                    "summary": f"Resolved it: {fix}.",
                    "outcome": "success",
                    "what_worked": [fix],
                    "project": "bench",
                    "tags": [family.name],
                },
            )
        )
    for n, trap in enumerate(family.traps):
        failed = n % 2 == 0
        out.append(
            (
                "decoy",
                {
                    "task": family.symptom[0].upper() + family.symptom[1:],
                    "summary": (
                        f"{family.symptom[0].upper() + family.symptom[1:]}. Tried: {trap}."
                        + (" It did not help." if failed else " Old workaround, superseded.")
                    ),
                    "outcome": "failure" if failed else "partial",
                    "what_failed" if failed else "what_worked": [trap],
                    "project": "bench",
                    "tags": [family.name],
                },
            )
        )
    return out
