-- MARKETING: campaigns, their daily spend and the leads they brought in.
--
-- Generated deterministically from row ids (never random()). Sixty
-- campaigns, five starting in each quarter of 2023-2025.

CREATE TABLE CHANNELS (
    channel_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    cost_model TEXT NOT NULL
);

INSERT INTO CHANNELS (channel_id, name, type, cost_model) VALUES
    (1, 'Paid Search', 'paid', 'CPC'),
    (2, 'Paid Social', 'paid', 'CPM'),
    (3, 'Display', 'paid', 'CPM'),
    (4, 'Email', 'owned', 'flat'),
    (5, 'Affiliate', 'paid', 'revenue share'),
    (6, 'Events', 'earned', 'flat'),
    (7, 'Content & SEO', 'owned', 'flat'),
    (8, 'Podcast', 'paid', 'flat');

CREATE TABLE CAMPAIGNS (
    campaign_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    channel_id INTEGER NOT NULL REFERENCES CHANNELS (channel_id),
    objective TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    budget NUMERIC(12,2) NOT NULL,
    status TEXT NOT NULL
);

CREATE TABLE CAMPAIGN_SPEND (
    campaign_id INTEGER NOT NULL REFERENCES CAMPAIGNS (campaign_id),
    spend_date DATE NOT NULL,
    impressions INTEGER NOT NULL,
    clicks INTEGER NOT NULL,
    spend NUMERIC(10,2) NOT NULL,
    PRIMARY KEY (campaign_id, spend_date)
);

CREATE TABLE LEADS (
    lead_id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES CAMPAIGNS (campaign_id),
    created_date DATE NOT NULL,
    full_name TEXT NOT NULL,
    email TEXT,
    company TEXT,
    country TEXT NOT NULL,
    lead_score INTEGER NOT NULL,
    status TEXT NOT NULL,
    converted_date DATE
);

WITH RECURSIVE
themes(t, theme, objective) AS (VALUES
    (0, 'Spring Trail Sale', 'Conversion'), (1, 'Summit Series Launch', 'Awareness'),
    (2, 'Back to Camp', 'Conversion'), (3, 'Holiday Gift Guide', 'Conversion'),
    (4, 'Winter Warmers', 'Conversion'), (5, 'Paddle Season', 'Awareness'),
    (6, 'Climb Higher', 'Lead Generation'), (7, 'Bike to Work', 'Lead Generation'),
    (8, 'Members Weekend', 'Retention'), (9, 'Earth Day Cleanup', 'Awareness'),
    (10, 'Black Friday', 'Conversion'), (11, 'New Year Adventure', 'Retention')),
ids(c) AS (SELECT 1 UNION ALL SELECT c + 1 FROM ids WHERE c < 60),
plan(c, q, start_date, days) AS (
    SELECT c, (c - 1) / 5,
           date('2023-01-01', (((c - 1) / 5) * 3) || ' months', ((c * 11) % 30) || ' days'),
           14 + ((c * c * 7919 + c * 31 + 5) % 1000003) % 60
    FROM ids)
INSERT INTO CAMPAIGNS (campaign_id, name, channel_id, objective, start_date, end_date, budget,
                       status)
SELECT c,
       theme || ' ' || (2023 + q / 4) || ' Q' || (q % 4 + 1),
       1 + (c * 5 + 3) % 8,
       objective,
       start_date,
       date(start_date, (days - 1) || ' days'),
       5000 + ((c * c * 104729 + c * 17 + 3) % 1000003 % 40) * 1250,
       CASE WHEN date(start_date, (days - 1) || ' days') < '2025-12-01' THEN 'completed'
            ELSE 'active' END
FROM plan CROSS JOIN themes
WHERE t = (c * 7 + q) % 12
ORDER BY c;

-- One spend row per campaign day; the budget is spread with daily jitter.
WITH RECURSIVE
days(campaign_id, k, n, budget, start_date) AS (
    SELECT campaign_id, 0, julianday(end_date) - julianday(start_date) + 1, budget, start_date
    FROM CAMPAIGNS
    UNION ALL
    SELECT campaign_id, k + 1, n, budget, start_date FROM days WHERE k + 1 < n),
spend(campaign_id, k, spend_date, spend) AS (
    SELECT campaign_id, k, date(start_date, k || ' days'),
           round(budget / n * (0.7 + ((campaign_id * 31 + k * 17) % 60) / 100.0), 2)
    FROM days)
INSERT INTO CAMPAIGN_SPEND (campaign_id, spend_date, impressions, clicks, spend)
SELECT campaign_id, spend_date,
       CAST(spend * (80 + (campaign_id * 13 + k * 7) % 120) AS INTEGER),
       CAST(spend * (80 + (campaign_id * 13 + k * 7) % 120) AS INTEGER)
           * (5 + (campaign_id + k) % 30) / 1000,
       spend
FROM spend
ORDER BY campaign_id, spend_date;

-- Leads: each belongs to one campaign and arrives while it runs. Some
-- channels convert better than others; about 6% have no email.
WITH RECURSIVE
firsts(i, first) AS (VALUES
    (0, 'Alex'), (1, 'Jordan'), (2, 'Taylor'), (3, 'Morgan'), (4, 'Casey'), (5, 'Riley'),
    (6, 'Jamie'), (7, 'Avery'), (8, 'Quinn'), (9, 'Harper'), (10, 'Noah'), (11, 'Mia'),
    (12, 'Liam'), (13, 'Zoe'), (14, 'Ethan'), (15, 'Aisha'), (16, 'Kenji'), (17, 'Lucia'),
    (18, 'Omar'), (19, 'Freya'), (20, 'Diego'), (21, 'Hana'), (22, 'Felix'), (23, 'Nora')),
lasts(i, last) AS (VALUES
    (0, 'Bennett'), (1, 'Chen'), (2, 'Fischer'), (3, 'Gupta'), (4, 'Hansen'), (5, 'Ito'),
    (6, 'Kowalski'), (7, 'Larsen'), (8, 'Moreau'), (9, 'Novak'), (10, 'Oliveira'),
    (11, 'Park'), (12, 'Quinn'), (13, 'Rossi'), (14, 'Silva'), (15, 'Turner'),
    (16, 'Vasquez'), (17, 'Weber'), (18, 'Yamamoto'), (19, 'Zimmerman')),
companies(i, company) AS (VALUES
    (0, NULL), (1, 'Northwind Outfitters'), (2, 'Blue Ridge Guides'), (3, 'Cascade Rentals'),
    (4, 'Peak Performance Gym'), (5, 'Riverbend Schools'), (6, 'Granite Climbing Club'),
    (7, 'Lakeside Resorts'), (8, NULL), (9, 'Tundra Logistics'), (10, 'Evergreen Scouts'),
    (11, 'Harbor Kayak Co.'), (12, NULL), (13, 'Mesa Adventure Tours'), (14, 'Aurora Ski School'),
    (15, NULL)),
countries(i, country) AS (VALUES
    (0, 'United States'), (1, 'United States'), (2, 'United States'), (3, 'Canada'),
    (4, 'United Kingdom'), (5, 'Germany'), (6, 'France'), (7, 'Japan'), (8, 'Australia'),
    (9, 'Brazil'), (10, 'Mexico'), (11, 'India')),
ids(lead_id) AS (SELECT 1 UNION ALL SELECT lead_id + 1 FROM ids WHERE lead_id < 10000),
base(lead_id, campaign_id, created_date, h, score) AS (
    SELECT lead_id, c.campaign_id,
           date(c.start_date,
                ((lead_id * 31) % CAST(julianday(c.end_date) - julianday(c.start_date) + 1
                                       AS INTEGER)) || ' days'),
           ((lead_id * lead_id * 31 + lead_id * 7 + 11) % 1000003) % 100 + (c.channel_id * 3) % 10,
           ((lead_id * lead_id * 17 + lead_id * 3 + 5) % 1000003) % 101
    FROM ids CROSS JOIN CAMPAIGNS c
    WHERE c.campaign_id = 1 + ((lead_id * lead_id * 7919 + lead_id * 104729 + 13) % 1000003) % 60)
INSERT INTO LEADS (lead_id, campaign_id, created_date, full_name, email, company, country,
                   lead_score, status, converted_date)
SELECT lead_id, campaign_id, created_date,
       first || ' ' || last,
       CASE WHEN (lead_id * 7919 + 5) % 17 = 0 THEN NULL
            ELSE lower(first || '.' || last) || '.' || lead_id || '@example.org' END,
       company,
       country,
       score,
       CASE WHEN created_date >= '2025-12-01' THEN 'new'
            WHEN h + score / 10 < 14 THEN 'converted'
            WHEN h < 35 THEN 'qualified'
            WHEN h < 70 THEN 'contacted'
            ELSE 'lost' END,
       CASE WHEN created_date < '2025-12-01' AND h + score / 10 < 14
            THEN date(created_date, (3 + (lead_id * 13) % 40) || ' days') END
FROM base CROSS JOIN firsts CROSS JOIN lasts CROSS JOIN companies CROSS JOIN countries
WHERE firsts.i = (lead_id * 7919 + 1) % 24
  AND lasts.i = ((lead_id * 104729 + 5) / 24) % 20
  AND companies.i = (lead_id * 6151 + 2) % 16
  AND countries.i = (lead_id * 3571 + 9) % 12
ORDER BY lead_id;

CREATE INDEX LEADS_CAMPAIGN ON LEADS (campaign_id);

CREATE VIEW CAMPAIGN_RESULTS AS
WITH s AS (SELECT campaign_id, sum(spend) AS spend, sum(impressions) AS impressions,
                  sum(clicks) AS clicks
           FROM CAMPAIGN_SPEND GROUP BY campaign_id),
     l AS (SELECT campaign_id, count(*) AS leads,
                  sum(status = 'converted') AS conversions
           FROM LEADS GROUP BY campaign_id)
SELECT c.campaign_id,
       c.name,
       ch.name AS channel,
       c.objective,
       c.start_date,
       c.end_date,
       c.budget,
       round(coalesce(s.spend, 0), 2) AS spend,
       coalesce(s.impressions, 0) AS impressions,
       coalesce(s.clicks, 0) AS clicks,
       coalesce(l.leads, 0) AS leads,
       coalesce(l.conversions, 0) AS conversions,
       round(s.spend / nullif(l.leads, 0), 2) AS cost_per_lead,
       round(100.0 * l.conversions / nullif(l.leads, 0), 1) AS conversion_rate_pct
FROM CAMPAIGNS c
JOIN CHANNELS ch ON ch.channel_id = c.channel_id
LEFT JOIN s ON s.campaign_id = c.campaign_id
LEFT JOIN l ON l.campaign_id = c.campaign_id;

CREATE VIEW CHANNEL_PERFORMANCE AS
SELECT ch.name AS channel,
       ch.type,
       count(r.campaign_id) AS campaigns,
       round(coalesce(sum(r.spend), 0), 2) AS spend,
       coalesce(sum(r.impressions), 0) AS impressions,
       coalesce(sum(r.clicks), 0) AS clicks,
       round(100.0 * sum(r.clicks) / nullif(sum(r.impressions), 0), 2) AS ctr_pct,
       coalesce(sum(r.leads), 0) AS leads,
       coalesce(sum(r.conversions), 0) AS conversions,
       round(sum(r.spend) / nullif(sum(r.conversions), 0), 2) AS cost_per_conversion
FROM CHANNELS ch
LEFT JOIN CAMPAIGN_RESULTS r ON r.channel = ch.name
GROUP BY ch.channel_id, ch.name, ch.type;
