-- FINANCE: chart of accounts, general-ledger entries, budgets and invoices.
--
-- Generated deterministically from row ids (never random()). Ledger entries
-- cover 2023-01-01 .. 2025-12-31; revenue accounts are credited, cost and
-- expense accounts debited, so MONTHLY_PNL shows a modest profit.

CREATE TABLE ACCOUNTS (
    account_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    normal_balance TEXT NOT NULL,
    department TEXT
);

INSERT INTO ACCOUNTS (account_id, name, type, normal_balance, department) VALUES
    (1000, 'Cash', 'Asset', 'debit', NULL),
    (1100, 'Accounts Receivable', 'Asset', 'debit', NULL),
    (1200, 'Inventory', 'Asset', 'debit', NULL),
    (2000, 'Accounts Payable', 'Liability', 'credit', NULL),
    (2100, 'Accrued Liabilities', 'Liability', 'credit', NULL),
    (4000, 'Product Revenue', 'Revenue', 'credit', 'Sales'),
    (4100, 'Shipping Revenue', 'Revenue', 'credit', 'Sales'),
    (4200, 'Membership Revenue', 'Revenue', 'credit', 'Marketing'),
    (5000, 'Cost of Goods Sold', 'Cost of Sales', 'debit', 'Operations'),
    (5100, 'Freight Out', 'Cost of Sales', 'debit', 'Operations'),
    (6000, 'Salaries & Wages', 'Operating Expense', 'debit', 'Human Resources'),
    (6100, 'Rent', 'Operating Expense', 'debit', 'Operations'),
    (6200, 'Advertising', 'Operating Expense', 'debit', 'Marketing'),
    (6300, 'Software & IT', 'Operating Expense', 'debit', 'Engineering'),
    (6400, 'Travel', 'Operating Expense', 'debit', 'Sales'),
    (6500, 'Utilities', 'Operating Expense', 'debit', 'Operations'),
    (6600, 'Professional Fees', 'Operating Expense', 'debit', 'Finance'),
    (6700, 'Depreciation', 'Operating Expense', 'debit', 'Finance');

CREATE TABLE GL_ENTRIES (
    entry_id INTEGER PRIMARY KEY,
    entry_date DATE NOT NULL,
    account_id INTEGER NOT NULL REFERENCES ACCOUNTS (account_id),
    department TEXT,
    description TEXT NOT NULL,
    debit NUMERIC(12,2) NOT NULL DEFAULT 0,
    credit NUMERIC(12,2) NOT NULL DEFAULT 0
);

CREATE TABLE BUDGETS (
    fiscal_year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    account_id INTEGER NOT NULL REFERENCES ACCOUNTS (account_id),
    amount NUMERIC(12,2) NOT NULL,
    PRIMARY KEY (fiscal_year, month, account_id)
);

CREATE TABLE INVOICES (
    invoice_id INTEGER PRIMARY KEY,
    invoice_number TEXT NOT NULL UNIQUE,
    customer_name TEXT NOT NULL,
    issue_date DATE NOT NULL,
    due_date DATE NOT NULL,
    amount NUMERIC(12,2) NOT NULL,
    status TEXT NOT NULL,
    paid_date DATE
);

-- Twenty weighted slots decide which account an entry posts to; each slot
-- has a typical amount and a few descriptions.
WITH RECURSIVE
slots(s, account_id, typical, memo) AS (VALUES
    (0, 4000, 8000, 'Daily sales batch'), (1, 4000, 8000, 'Online sales settlement'),
    (2, 4000, 8000, 'Retail store deposits'), (3, 4000, 8000, 'Wholesale order'),
    (4, 4000, 8000, 'Marketplace payout'), (5, 4000, 8000, 'Daily sales batch'),
    (6, 4000, 8000, 'Online sales settlement'), (7, 4100, 900, 'Shipping fees collected'),
    (8, 4200, 2500, 'Membership renewals'), (9, 5000, 7000, 'Inventory relief'),
    (10, 5000, 7000, 'Supplier invoice'), (11, 5000, 7000, 'Inventory relief'),
    (12, 5100, 1200, 'Carrier invoice'), (13, 6000, 9000, 'Payroll run'),
    (14, 6000, 9000, 'Payroll run'), (15, 6100, 4000, 'Store and warehouse rent'),
    (16, 6200, 3000, 'Media buy'), (17, 6300, 1500, 'SaaS subscriptions'),
    (18, 6400, 800, 'Team travel'), (19, 6600, 1200, 'Audit and legal fees')),
ids(e) AS (SELECT 1 UNION ALL SELECT e + 1 FROM ids WHERE e < 20000),
posts(e, entry_date, account_id, memo, amount) AS (
    SELECT e,
           date('2023-01-01', ((e - 1) * 1096 / 20000) || ' days'),
           account_id,
           memo,
           round(typical * (0.5 + ((e * e * 7919 + e * 31 + 7) % 1000003 % 100) / 100.0)
                 + (e * 37 % 100) / 100.0, 2)
    FROM ids CROSS JOIN slots
    WHERE s = (e * e * 104729 + e * 13 + 3) % 1000003 % 20)
INSERT INTO GL_ENTRIES (entry_id, entry_date, account_id, department, description, debit,
                        credit)
SELECT e, entry_date, p.account_id, a.department,
       memo || ' ' || strftime('%Y-%m', entry_date),
       CASE WHEN a.normal_balance = 'debit' THEN amount ELSE 0 END,
       CASE WHEN a.normal_balance = 'credit' THEN amount ELSE 0 END
FROM posts p JOIN ACCOUNTS a ON a.account_id = p.account_id
ORDER BY e;

-- A few reversals make the ledger look like a real one.
UPDATE GL_ENTRIES SET description = 'Reversal: ' || description, debit = credit, credit = debit
WHERE entry_id % 397 = 0;

-- Monthly depreciation, one entry per month.
WITH RECURSIVE m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k < 35)
INSERT INTO GL_ENTRIES (entry_id, entry_date, account_id, department, description, debit,
                        credit)
SELECT 20001 + k, date('2023-01-01', k || ' months', '+27 days'), 6700, 'Finance',
       'Monthly depreciation ' || strftime('%Y-%m', date('2023-01-01', k || ' months')),
       4200 + 150 * (k / 12), 0
FROM m ORDER BY k;

CREATE INDEX GL_ENTRIES_ACCOUNT_DATE ON GL_ENTRIES (account_id, entry_date);

-- Budgets: each P&L account's average month, grown 4% a year, with a small
-- seasonal wobble, rounded to hundreds.
WITH RECURSIVE
months(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM months WHERE k < 35),
avg_month(account_id, amount) AS (
    SELECT g.account_id, (sum(g.debit) + sum(g.credit)) / 36.0
    FROM GL_ENTRIES g JOIN ACCOUNTS a ON a.account_id = g.account_id
    WHERE a.type IN ('Revenue', 'Cost of Sales', 'Operating Expense')
    GROUP BY g.account_id)
INSERT INTO BUDGETS (fiscal_year, month, account_id, amount)
SELECT 2023 + k / 12, k % 12 + 1, account_id,
       round(amount * (0.94 + 0.04 * (k / 12)) * (1 + ((k * 7 + account_id / 100) % 9 - 4) / 100.0)
             / 100) * 100
FROM months CROSS JOIN avg_month
ORDER BY k, account_id;

WITH RECURSIVE
clients(i, name) AS (VALUES
    (0, 'Northwind Outfitters'), (1, 'Blue Ridge Guides'), (2, 'Cascade Rentals'),
    (3, 'Peak Performance Gym'), (4, 'Riverbend Schools'), (5, 'Granite Climbing Club'),
    (6, 'Lakeside Resorts'), (7, 'Tundra Logistics'), (8, 'Evergreen Scouts'),
    (9, 'Harbor Kayak Co.'), (10, 'Mesa Adventure Tours'), (11, 'Aurora Ski School'),
    (12, 'Pinecrest Lodge'), (13, 'Summit County Parks'), (14, 'Redwood Retreats'),
    (15, 'Coastal Surf Shop'), (16, 'Highland Trail Runners'), (17, 'Glacier Expeditions'),
    (18, 'Prairie Wind Cycling'), (19, 'Canyon Climbing Gym')),
ids(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM ids WHERE n < 3000),
inv(n, issue_date, h) AS (
    SELECT n, date('2023-01-02', ((n - 1) * 1090 / 3000) || ' days'),
           (n * n * 7919 + n * 104729 + 13) % 1000003
    FROM ids)
INSERT INTO INVOICES (invoice_id, invoice_number, customer_name, issue_date, due_date, amount,
                      status, paid_date)
SELECT n,
       printf('INV-%s-%05d', substr(issue_date, 1, 4), n),
       name,
       issue_date,
       date(issue_date, '+30 days'),
       round(500 + (h % 4000) * 4.75, 2),
       CASE WHEN h % 50 = 0 THEN 'void'
            WHEN date(issue_date, '+30 days') >= '2025-12-31' THEN 'open'
            WHEN h % 50 < 4 THEN 'overdue'
            ELSE 'paid' END,
       CASE WHEN h % 50 >= 4 AND date(issue_date, '+30 days') < '2025-12-31'
            THEN date(issue_date, (5 + h % 40) || ' days') END
FROM inv CROSS JOIN clients
WHERE i = (n * 7 + h) % 20
ORDER BY n;

CREATE VIEW MONTHLY_PNL AS
SELECT substr(g.entry_date, 1, 7) AS month,
       round(sum(CASE WHEN a.type = 'Revenue' THEN g.credit - g.debit ELSE 0 END), 2)
           AS revenue,
       round(sum(CASE WHEN a.type = 'Cost of Sales' THEN g.debit - g.credit ELSE 0 END), 2)
           AS cost_of_sales,
       round(sum(CASE WHEN a.type = 'Revenue' THEN g.credit - g.debit
                      WHEN a.type = 'Cost of Sales' THEN g.credit - g.debit ELSE 0 END), 2)
           AS gross_profit,
       round(sum(CASE WHEN a.type = 'Operating Expense' THEN g.debit - g.credit ELSE 0 END), 2)
           AS operating_expenses,
       round(sum(CASE WHEN a.type IN ('Revenue', 'Cost of Sales', 'Operating Expense')
                      THEN g.credit - g.debit ELSE 0 END), 2) AS net_income
FROM GL_ENTRIES g
JOIN ACCOUNTS a ON a.account_id = g.account_id
GROUP BY month
ORDER BY month;

CREATE VIEW BUDGET_VS_ACTUAL AS
WITH actual AS (
    SELECT CAST(substr(g.entry_date, 1, 4) AS INTEGER) AS fiscal_year,
           CAST(substr(g.entry_date, 6, 2) AS INTEGER) AS month,
           g.account_id,
           sum(CASE WHEN a.normal_balance = 'credit' THEN g.credit - g.debit
                    ELSE g.debit - g.credit END) AS amount
    FROM GL_ENTRIES g JOIN ACCOUNTS a ON a.account_id = g.account_id
    GROUP BY fiscal_year, month, g.account_id)
SELECT b.fiscal_year,
       b.month,
       b.account_id,
       a.name AS account,
       a.type,
       b.amount AS budget,
       round(coalesce(x.amount, 0), 2) AS actual,
       round(coalesce(x.amount, 0) - b.amount, 2) AS variance,
       round(100.0 * (coalesce(x.amount, 0) - b.amount) / nullif(b.amount, 0), 1)
           AS variance_pct
FROM BUDGETS b
JOIN ACCOUNTS a ON a.account_id = b.account_id
LEFT JOIN actual x ON x.fiscal_year = b.fiscal_year AND x.month = b.month
                  AND x.account_id = b.account_id
ORDER BY b.fiscal_year, b.month, b.account_id;
