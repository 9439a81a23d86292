-- SALES: customers, products and orders of a fictional outdoor-gear retailer.
--
-- Generated deterministically: every value is arithmetic on row ids (never
-- random()), so every build produces identical data. Orders run from
-- 2023-01-01 to 2025-12-31; customers sign up from 2022-03 onwards and only
-- order after signing up.

CREATE TABLE REGIONS (
    region_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    manager TEXT NOT NULL,
    currency TEXT NOT NULL
);

INSERT INTO REGIONS (region_id, name, manager, currency) VALUES
    (1, 'North America', 'Dana Whitfield', 'USD'),
    (2, 'Europe', 'Lukas Brenner', 'EUR'),
    (3, 'Asia Pacific', 'Mei Tanaka', 'USD'),
    (4, 'Latin America', 'Rafael Ortega', 'USD'),
    (5, 'Middle East & Africa', 'Amara Okafor', 'USD');

CREATE TABLE CUSTOMERS (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    region TEXT NOT NULL REFERENCES REGIONS (name),
    segment TEXT NOT NULL,
    signup_date DATE NOT NULL,
    country TEXT NOT NULL
);

CREATE TABLE PRODUCTS (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    unit_price REAL NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE ORDERS (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES CUSTOMERS (id),
    order_date DATE NOT NULL,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    total_amount NUMERIC(12,2) NOT NULL
);

CREATE TABLE ORDER_ITEMS (
    order_id INTEGER NOT NULL REFERENCES ORDERS (order_id),
    line_no INTEGER NOT NULL,
    product_id INTEGER NOT NULL REFERENCES PRODUCTS (id),
    quantity INTEGER NOT NULL,
    unit_price NUMERIC(10,2) NOT NULL,
    discount REAL NOT NULL DEFAULT 0,
    line_total NUMERIC(12,2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- Products: five product lines times forty kinds of gear.
WITH
kinds(k, noun, category, base_price) AS (VALUES
    (0, 'Tent', 'Camping', 249.0), (1, 'Sleeping Bag', 'Camping', 129.0),
    (2, 'Camp Stove', 'Camping', 69.0), (3, 'Lantern', 'Camping', 34.0),
    (4, 'Hammock', 'Camping', 59.0), (5, 'Camp Chair', 'Camping', 45.0),
    (6, 'Backpack', 'Hiking', 159.0), (7, 'Trekking Poles', 'Hiking', 89.0),
    (8, 'Hiking Boots', 'Hiking', 179.0), (9, 'Water Filter', 'Hiking', 39.0),
    (10, 'Daypack', 'Hiking', 79.0), (11, 'Headlamp', 'Hiking', 29.0),
    (12, 'Bike Helmet', 'Cycling', 99.0), (13, 'Bike Light', 'Cycling', 39.0),
    (14, 'Cycling Jersey', 'Cycling', 69.0), (15, 'Saddle Bag', 'Cycling', 35.0),
    (16, 'Bike Lock', 'Cycling', 49.0), (17, 'Rain Jacket', 'Apparel', 149.0),
    (18, 'Fleece', 'Apparel', 79.0), (19, 'Base Layer', 'Apparel', 59.0),
    (20, 'Down Vest', 'Apparel', 119.0), (21, 'Beanie', 'Apparel', 24.0),
    (22, 'Hiking Socks', 'Apparel', 19.0), (23, 'Kayak Paddle', 'Water Sports', 129.0),
    (24, 'Dry Bag', 'Water Sports', 29.0), (25, 'Life Vest', 'Water Sports', 89.0),
    (26, 'Wetsuit', 'Water Sports', 219.0), (27, 'Snorkel Set', 'Water Sports', 49.0),
    (28, 'Harness', 'Climbing', 69.0), (29, 'Chalk Bag', 'Climbing', 22.0),
    (30, 'Climbing Rope', 'Climbing', 199.0), (31, 'Carabiner Set', 'Climbing', 54.0),
    (32, 'Belay Device', 'Climbing', 34.0), (33, 'Climbing Shoes', 'Climbing', 139.0),
    (34, 'Snowshoes', 'Winter', 179.0), (35, 'Ski Goggles', 'Winter', 119.0),
    (36, 'Insulated Gloves', 'Winter', 59.0), (37, 'Avalanche Beacon', 'Winter', 329.0),
    (38, 'Thermal Bottle', 'Accessories', 27.0), (39, 'Multi-Tool', 'Accessories', 64.0)),
lines(l, line, factor) AS (VALUES
    (0, 'Trailhead', 0.8), (1, 'Ridge', 1.0), (2, 'Summit', 1.25),
    (3, 'Alpine Pro', 1.6), (4, 'Expedition', 2.1)),
ids(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM ids WHERE id < 200)
INSERT INTO PRODUCTS (id, sku, name, category, unit_price, active)
SELECT id,
       printf('%s-%03d', upper(substr(category, 1, 3)), id),
       line || ' ' || noun,
       category,
       round(base_price * factor, 0) - 0.01,
       CASE WHEN (id * 7) % 13 = 0 THEN 0 ELSE 1 END
FROM ids CROSS JOIN kinds CROSS JOIN lines
WHERE k = (id - 1) % 40 AND l = (id - 1) / 40
ORDER BY id;

-- Customers: people from 24 countries; about 4% have no email on file.
WITH
firsts(i, first) AS (VALUES
    (0, 'James'), (1, 'Mary'), (2, 'Robert'), (3, 'Patricia'), (4, 'John'),
    (5, 'Jennifer'), (6, 'Michael'), (7, 'Linda'), (8, 'David'), (9, 'Elizabeth'),
    (10, 'William'), (11, 'Barbara'), (12, 'Richard'), (13, 'Susan'), (14, 'Joseph'),
    (15, 'Jessica'), (16, 'Thomas'), (17, 'Sarah'), (18, 'Carlos'), (19, 'Karen'),
    (20, 'Daniel'), (21, 'Lisa'), (22, 'Matthew'), (23, 'Nancy'), (24, 'Anthony'),
    (25, 'Sofia'), (26, 'Mark'), (27, 'Ana'), (28, 'Hiroshi'), (29, 'Priya'),
    (30, 'Lars'), (31, 'Chloe'), (32, 'Wei'), (33, 'Fatima'), (34, 'Mateo'),
    (35, 'Emma'), (36, 'Kwame'), (37, 'Ingrid'), (38, 'Arjun'), (39, 'Olivia')),
lasts(i, last) AS (VALUES
    (0, 'Smith'), (1, 'Johnson'), (2, 'Williams'), (3, 'Brown'), (4, 'Jones'),
    (5, 'Garcia'), (6, 'Miller'), (7, 'Davis'), (8, 'Rodriguez'), (9, 'Martinez'),
    (10, 'Hernandez'), (11, 'Lopez'), (12, 'Gonzalez'), (13, 'Wilson'), (14, 'Anderson'),
    (15, 'Thomas'), (16, 'Taylor'), (17, 'Moore'), (18, 'Jackson'), (19, 'Martin'),
    (20, 'Lee'), (21, 'Perez'), (22, 'Thompson'), (23, 'White'), (24, 'Harris'),
    (25, 'Sanchez'), (26, 'Clark'), (27, 'Ramirez'), (28, 'Lewis'), (29, 'Robinson'),
    (30, 'Walker'), (31, 'Young'), (32, 'Allen'), (33, 'King'), (34, 'Wright'),
    (35, 'Nakamura'), (36, 'Schmidt'), (37, 'Dubois'), (38, 'Okafor'), (39, 'Lindqvist')),
countries(i, country, region) AS (VALUES
    (0, 'United States', 'North America'), (1, 'United States', 'North America'),
    (2, 'United States', 'North America'), (3, 'United States', 'North America'),
    (4, 'Canada', 'North America'), (5, 'Canada', 'North America'),
    (6, 'United Kingdom', 'Europe'), (7, 'Germany', 'Europe'), (8, 'France', 'Europe'),
    (9, 'Netherlands', 'Europe'), (10, 'Sweden', 'Europe'), (11, 'Spain', 'Europe'),
    (12, 'Japan', 'Asia Pacific'), (13, 'Australia', 'Asia Pacific'),
    (14, 'Singapore', 'Asia Pacific'), (15, 'India', 'Asia Pacific'),
    (16, 'Mexico', 'Latin America'), (17, 'Brazil', 'Latin America'),
    (18, 'Chile', 'Latin America'), (19, 'Colombia', 'Latin America'),
    (20, 'United Arab Emirates', 'Middle East & Africa'),
    (21, 'South Africa', 'Middle East & Africa'), (22, 'Kenya', 'Middle East & Africa'),
    (23, 'Germany', 'Europe')),
ids(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM ids WHERE id < 2000)
INSERT INTO CUSTOMERS (id, name, email, region, segment, signup_date, country)
SELECT id,
       first || ' ' || last,
       CASE WHEN (id * 7919 + 13) % 23 = 0 THEN NULL
            ELSE lower(first || '.' || last) || id || '@example.com' END,
       region,
       CASE (id * 104729 + 7) % 10
           WHEN 9 THEN 'Enterprise' WHEN 8 THEN 'Mid-Market'
           WHEN 7 THEN 'Small Business' WHEN 6 THEN 'Small Business'
           WHEN 5 THEN 'Small Business' ELSE 'Consumer' END,
       date('2023-01-01', ((id - 1) / 2 - 300) || ' days'),
       country
-- CROSS JOIN keeps ids as the outer loop, so each lookup scans a short list.
FROM ids CROSS JOIN firsts CROSS JOIN lasts CROSS JOIN countries
WHERE firsts.i = (id * 7919 + 13) % 40
  AND lasts.i = ((id * 104729 + 7) / 40) % 40
  AND countries.i = (id * 6151 + 3) % 24
ORDER BY id;

-- Order lines first, so that each order's total is the sum of its lines.
-- Order o is placed on day (o-1)*1096/50000 after 2023-01-01 and has 1-4
-- lines; popular (low-id) products sell more often.
WITH RECURSIVE
ords(o) AS (SELECT 1 UNION ALL SELECT o + 1 FROM ords WHERE o < 50000),
nums(l) AS (VALUES (1), (2), (3), (4)),
picks(o, l, product_id, quantity, discount) AS (
    SELECT o, l,
           -- a third of lines pick any product, the rest favour low ids
           CASE WHEN (o + l) % 3 = 0 THEN 1 + ((o * o * 17 + l * 7919 + o) % 1000003) % 200
                ELSE 1 + (((o * 7919 + l * 6151) % 200) * ((o * 7919 + l * 6151) % 200)) / 200
           END,
           1 + ((o * 17 + l * 5) % 7) % 4,
           CASE (o + l * 3) % 10 WHEN 0 THEN 0.10 WHEN 1 THEN 0.05 ELSE 0.0 END
    FROM ords JOIN nums ON l <= 1 + (o * 13 + 5) % 4)
INSERT INTO ORDER_ITEMS (order_id, line_no, product_id, quantity, unit_price, discount,
                         line_total)
SELECT o, l, product_id, quantity, p.unit_price, discount,
       round(quantity * p.unit_price * (1 - discount), 2)
FROM picks JOIN PRODUCTS p ON p.id = picks.product_id
ORDER BY o, l;

WITH RECURSIVE
ords(o, d) AS (SELECT 1, 0
               UNION ALL SELECT o + 1, (o * 1096) / 50000 FROM ords WHERE o < 50000)
INSERT INTO ORDERS (order_id, customer_id, order_date, status, channel, total_amount)
SELECT o,
       -- only customers who had signed up by day d: ids 1 .. 2*(d+300)+1
       1 + ((o * o * 7919 + o * 104729 + 13) % 1000003) % min(2000, 2 * (d + 300) + 1),
       date('2023-01-01', d || ' days'),
       CASE WHEN d >= 1085 THEN CASE o % 3 WHEN 0 THEN 'pending' ELSE 'shipped' END
            WHEN ((o * o * 31 + o * 7 + 11) % 1000003) % 100 < 4 THEN 'cancelled'
            WHEN ((o * o * 31 + o * 7 + 11) % 1000003) % 100 < 7 THEN 'returned'
            ELSE 'delivered' END,
       CASE (o * 104729 + 3) % 10
           WHEN 0 THEN 'store' WHEN 1 THEN 'store' WHEN 2 THEN 'phone'
           WHEN 3 THEN 'mobile' WHEN 4 THEN 'mobile' WHEN 5 THEN 'mobile'
           ELSE 'web' END,
       (SELECT round(sum(line_total), 2) FROM ORDER_ITEMS i WHERE i.order_id = o)
FROM ords
ORDER BY o;

CREATE INDEX ORDERS_CUSTOMER ON ORDERS (customer_id);
CREATE INDEX ORDERS_DATE ON ORDERS (order_date);
CREATE INDEX ORDER_ITEMS_PRODUCT ON ORDER_ITEMS (product_id);

CREATE VIEW CUSTOMER_ANALYTICS AS
SELECT c.id AS customer_id,
       c.name,
       c.region,
       c.segment,
       c.country,
       count(o.order_id) AS orders,
       round(coalesce(sum(o.total_amount), 0), 2) AS lifetime_value,
       round(avg(o.total_amount), 2) AS avg_order_value,
       min(o.order_date) AS first_order,
       max(o.order_date) AS last_order
FROM CUSTOMERS c
LEFT JOIN ORDERS o ON o.customer_id = c.id AND o.status <> 'cancelled'
GROUP BY c.id, c.name, c.region, c.segment, c.country;

CREATE VIEW REVENUE_BY_REGION AS
SELECT c.region,
       CAST(substr(o.order_date, 1, 4) AS INTEGER) AS year,
       CAST(substr(o.order_date, 6, 2) AS INTEGER) AS month,
       count(*) AS orders,
       round(sum(o.total_amount), 2) AS revenue
FROM ORDERS o
JOIN CUSTOMERS c ON c.id = o.customer_id
WHERE o.status NOT IN ('cancelled', 'returned')
GROUP BY c.region, year, month
ORDER BY c.region, year, month;

CREATE VIEW TOP_PRODUCTS AS
SELECT p.id AS product_id,
       p.name,
       p.category,
       sum(i.quantity) AS units_sold,
       round(sum(i.line_total), 2) AS revenue,
       rank() OVER (ORDER BY sum(i.line_total) DESC) AS revenue_rank
FROM ORDER_ITEMS i
JOIN ORDERS o ON o.order_id = i.order_id
JOIN PRODUCTS p ON p.id = i.product_id
WHERE o.status NOT IN ('cancelled', 'returned')
GROUP BY p.id, p.name, p.category
ORDER BY revenue DESC;
