"""`make bench` (`python -m bench [--quick] [--verbose] [--no-keepalive]`): what one payment
verification costs.

A verification here is Iamport's webhook for a paid card payment of a fresh, pending, one-line
order: `POST /payments/webhook/` with `{"imp_uid", "merchant_uid", "status": "paid"}`, which
the shop answers only after fetching the payment from Iamport and marking the order paid.
Iamport is a stand-in (bench/standin.py, stdlib `ThreadingHTTPServer` on loopback) that sleeps
BENCH_DELAY_MS (default 50) before every answer and counts requests by endpoint; it knows each
benchmark order's payment as `imp_bench_<n>`.

The report:

1. Upstream requests per verification: the stand-in's counts (payment lookups, token requests,
   cancels) over every verification sent to gunicorn, divided by their number.
2. Latency: 30 verifications one after another from one client on one keep-alive connection,
   through gunicorn; median and p95 (nearest rank) in ms and as multiples of the delay. Beside
   it the floor no shop code can go below here: the stand-in's answer alone (lookups from the
   benchmark's process, before gunicorn starts, so not in 1.), and the bare view from one
   client, back to back and after an idle pause as long as the delay (a machine that idled
   answers slower, and a verification always idles while Iamport answers).
3. SQL statements per verification, in-process: Django's test client through the whole
   middleware stack and `CaptureQueriesContext`, the stand-in still over real HTTP;
   BEGIN/COMMIT/SAVEPOINT/RELEASE counted apart (`--verbose` lists every statement).
4. Throughput through gunicorn: verifications/s (each a fresh order) against requests/s of a
   bare `JsonResponse({"ok": True})` at `/bench/bare/` (bench/wsgi.py), from a load client of
   processes x threads with keep-alive `http.client` connections (bench/load.py), counted over
   a fixed window after a warm-up. Any answer that is not 2xx (or, for a webhook, not
   "processed; order paid") is an error and is printed, with what the server logged. Where
   the CPU went is printed too (from /proc): per request, gunicorn's and the database server
   processes', and the stand-in's and the client's, which a real deployment would not pay.
   A keep-alive connection stays with the gunicorn worker that accepted it, so how evenly the
   workers shared the CPU is shown; `--no-keepalive` opens a new connection per request
   instead (what a proxy without upstream keep-alive, like the README's nginx, does).
5. Product list page (`GET /`) in-process: queries and median time at 10 and 1,000 products.
6. PortOne V2: the same verification from V2's side, on the same server (V2 configured beside
   V1, as during a switch): a `Transaction.Paid` webhook signed with the shop's secret
   (bench/v2.py), answered after one `GET /payments/{paymentId}` of the stand-in (under
   /portone/): lookups per verification, latency (as 2.) and SQL statements in-process (as 3.).

How the shop runs: the production settings (debug off) from the environment `make serve`
needs, on loopback (bench/run.py `shop_environment`), gunicorn started with the command line
`config.serve.gunicorn_argv()` builds (cores + 1 workers x 8 threads unless
GUNICORN_WORKERS / GUNICORN_THREADS say otherwise) serving bench/wsgi.py; the settings module
bench/settings.py is config/settings.py plus `/bench/bare/` and a temporary STATIC_ROOT. The
database is a fresh PostgreSQL `shop_bench` (next to BENCH_DATABASE_URL, default
postgres://shop:shop@127.0.0.1:5432/shop) when the server answers, else SQLite; migrated,
dropped at the end and recreated by the next run.

The figures are only as good as the machine is quiet: the report says how busy the CPU was
with other work before and after, and warns when it was.
"""
