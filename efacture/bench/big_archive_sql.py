"""The SQL of ``efacture.bench.big_archive``: temporary ``big`` (one row per entry), then the
statements that fill each table from it. Entry ``i`` is archived at ``start + i × span / n``."""

_BIG = """
CREATE TEMP TABLE big ON COMMIT DROP AS
SELECT i,
       md5('efacture-big-' || %(tag)s || '-' || i)::uuid AS invoice_id,
       (%(tenants)s::text[])[1 + i %% %(nt)s] AS tenant,
       %(start)s::timestamptz + make_interval(secs => (i * %(span)s) / %(n)s) AS at,
       encode(sha256(convert_to('doc-' || %(tag)s || '-' || i, 'UTF8')), 'hex') AS sha
FROM generate_series(0::bigint, %(n)s - 1) AS i
"""

_LEAVES = """
CREATE TEMP TABLE lvl ON COMMIT DROP AS
SELECT i AS idx, sha256('\\x00'::bytea || data) AS hash, data FROM (
    SELECT i, convert_to('{"invoice_id":"' || invoice_id || '","kind":"invoice","sha256":"'
        || sha || '","tenant":"' || tenant || '","timestamp":"'
        || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"}', 'UTF8') AS data
    FROM big) AS b
"""

# One level up: the parent of every complete pair (RFC 9162: SHA-256(0x01 || left || right)).
_UP = """
CREATE TEMP TABLE nxt ON COMMIT DROP AS
SELECT a.idx / 2 AS idx, sha256('\\x01'::bytea || a.hash || b.hash) AS hash
FROM lvl a JOIN lvl b ON b.idx = a.idx + 1
WHERE a.idx % 2 = 0
"""

_CATALOGUE = """
INSERT INTO archive.invoice (invoice_id, tenant, submission_id, invoice_number, type_code,
    issue_date, recipient_id, recipient_name, recipient_email, amount_payable, currency, kind,
    syntax, profile, content_type, size_bytes, sha256, blob_key, wrapped_data_key,
    tenant_key_version, tsa_token, tsa_time, log_index, retain_until, transmit, archived_at)
SELECT invoice_id, tenant, 'big-' || i, 'BIG-' || lpad(i::text, 9, '0'), '380', at::date,
    'RCP' || lpad((i %% 997)::text, 11, '0'), 'Client ' || (i %% 997), NULL,
    ((i %% 100000) / 100.0 + 1)::numeric, 'EUR', 'xml', 'CII', 'EN16931', 'application/xml',
    30000 + (i %% 5000), sha, encode(sha256(convert_to('blob-' || sha, 'UTF8')), 'hex'),
    sha256(convert_to('k1' || sha, 'UTF8')) || sha256(convert_to('k2' || sha, 'UTF8')),
    1, %(token)s, at, i, (at + interval '10 years')::date, true, at
FROM big
"""

_INGEST = """
INSERT INTO ingest.submission (tenant, message_id, invoice_id, state, sha256, invoice_number,
    received_at, forwarded_at)
SELECT tenant, 'big-' || i, invoice_id, 'accepted', sha, 'BIG-' || lpad(i::text, 9, '0'), at, at
FROM big;
INSERT INTO ingest.invoice_key (seller_key, invoice_number, invoice_id)
SELECT left(tenant, 9), 'BIG-' || lpad(i::text, 9, '0'), invoice_id FROM big;
"""

_METERING = """
INSERT INTO metering.counted (invoice_id, tenant, archived_at, period_start)
SELECT b.invoice_id, b.tenant, b.at, p.period_start
FROM big b JOIN bench_period p ON p.tenant = b.tenant
    AND p.day = (b.at AT TIME ZONE 'Europe/Paris')::date;
INSERT INTO metering.period_count (tenant, period_start, period_end, count)
SELECT c.tenant, c.period_start, (SELECT min(p.period_end) FROM bench_period p
    WHERE p.tenant = c.tenant AND p.period_start = c.period_start), c.n
FROM (SELECT tenant, period_start, count(*) AS n FROM metering.counted
      GROUP BY tenant, period_start) AS c
ON CONFLICT (tenant, period_start) DO UPDATE SET count = metering.period_count.count
    + EXCLUDED.count;
INSERT INTO metering.tenant_count (tenant, stored, cumulative)
SELECT tenant, count(*), count(*) FROM big GROUP BY tenant
ON CONFLICT (tenant) DO UPDATE SET stored = metering.tenant_count.stored + EXCLUDED.stored,
    cumulative = metering.tenant_count.cumulative + EXCLUDED.cumulative;
"""

_TRANSMIT = """
INSERT INTO transmit.transmission (invoice_id, tenant, state, attempts, round_attempts, flow_id,
    created_at, updated_at)
SELECT invoice_id, tenant, 'accepted', 1, 1, 'big-flow-' || i, at, at FROM big
"""

_ANALYZE = ("archive.invoice", "archive.log_leaf", "archive.log_node", "archive.log_checkpoint",
            "ingest.submission", "ingest.invoice_key", "metering.counted",
            "transmit.transmission")
