-- The PostgreSQL test dataset: loaded by tests/pg/cluster.sh into the
-- database smcptest as the superuser. The role smcp (what snowflake-mcp
-- connects as) may read everything and may even write public.scratch and
-- use public.s: so a refusal in the tests comes from the READ ONLY
-- transaction, not from missing privileges.

CREATE ROLE smcp LOGIN PASSWORD 'smcp-secret';
COMMENT ON DATABASE smcptest IS 'snowflake-mcp test data';

-- Every value type the driver types by OID.
CREATE TABLE public.all_types (
    id int PRIMARY KEY,
    i2 smallint,
    i4 integer NOT NULL DEFAULT 0,
    i8 bigint,
    f4 real,
    f8 double precision,
    num numeric(30, 10),
    big numeric,
    b boolean,
    j json,
    jb jsonb,
    d date,
    t time,
    ttz timetz,
    ts timestamp,
    tstz timestamptz,
    iv interval,
    by bytea,
    txt text,
    vc varchar(20),
    u uuid,
    ai int[],
    at text[],
    an numeric[],
    ab boolean[],
    ajb jsonb[],
    nested int[][]
);
COMMENT ON TABLE public.all_types IS 'one column per value type';
COMMENT ON COLUMN public.all_types.num IS 'exact decimal';

INSERT INTO public.all_types VALUES
 (1, 32767, 2147483647, 9223372036854775807, 1.5, 2.25, 12345678901234567890.0123456789,
  123456789012345678901234567890, true, '{"a": [1, 2.5, "x"], "b": null}',
  '{"k": {"n": 1}}', '2024-02-29', '13:14:15.5', '13:14:15+05:30',
  '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+00', '1 day 2 hours',
  '\x00ff10', 'héllo "quoted", \back', 'short', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{1,NULL,3}', '{"a b","c,d","e\"f",NULL,"NULL"}', '{1.5,2}', '{t,f}',
  ARRAY['{"x": 1}'::jsonb, '[2]'::jsonb], '{{1,2},{3,4}}'),
 (2, -1, -2, -3, 'NaN', 'Infinity', -0.5, 'NaN', false, '[]', 'null', '1999-12-31',
  '00:00:00', '00:00:00+00', '1999-12-31 23:59:59', '1999-12-31 23:59:59+00', '-1 mon',
  '', '', '', '00000000-0000-0000-0000-000000000000', '{}', '{}', '{}', '{}', '{}', '{}'),
 (3, NULL, 0, NULL, NULL, '-Infinity', NULL, 42, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE VIEW public.all_types_v AS SELECT id, i4, txt FROM public.all_types WHERE id < 3;
COMMENT ON VIEW public.all_types_v IS 'two rows';

-- Writable by smcp, to prove the read-only transaction refuses writes.
CREATE TABLE public.scratch (id serial PRIMARY KEY, note text);
INSERT INTO public.scratch (note) VALUES ('original');
CREATE SEQUENCE public.s;
CREATE PROCEDURE public.p() LANGUAGE sql AS $$ DELETE FROM public.scratch $$;

-- A schema with data volume: 1,000 customers, 10,000 orders.
CREATE SCHEMA sales;
COMMENT ON SCHEMA sales IS 'orders and customers';
CREATE TABLE sales.customers (
    customer_id int PRIMARY KEY,
    name text NOT NULL,
    region text NOT NULL
);
CREATE TABLE sales.orders (
    order_id int PRIMARY KEY,
    customer_id int NOT NULL REFERENCES sales.customers,
    amount numeric(12, 2) NOT NULL,
    ordered_at timestamptz NOT NULL
);
INSERT INTO sales.customers
SELECT g, 'customer ' || g, (ARRAY['north', 'south', 'east', 'west'])[1 + g % 4]
FROM generate_series(1, 1000) g;
INSERT INTO sales.orders
SELECT g, 1 + g % 1000, (g % 997) * 1.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 10000) g;
CREATE VIEW sales.big_orders AS
SELECT o.order_id, c.name, o.amount FROM sales.orders o JOIN sales.customers c USING (customer_id)
WHERE o.amount > 1000;
CREATE MATERIALIZED VIEW sales.region_totals AS
SELECT c.region, sum(o.amount) AS total FROM sales.orders o JOIN sales.customers c USING (customer_id)
GROUP BY c.region;

-- Names that need quoting and case-insensitive matching.
CREATE SCHEMA "MixedCase";
CREATE TABLE "MixedCase"."Items" ("Id" int PRIMARY KEY, "select" text);
INSERT INTO "MixedCase"."Items" VALUES (1, 'one');

GRANT USAGE ON SCHEMA public, sales, "MixedCase" TO smcp;
GRANT SELECT ON ALL TABLES IN SCHEMA public, sales, "MixedCase" TO smcp;
GRANT ALL ON public.scratch, public.scratch_id_seq, public.s TO smcp;
GRANT CREATE ON SCHEMA public TO smcp;
GRANT EXECUTE ON PROCEDURE public.p() TO smcp;
ANALYZE;
