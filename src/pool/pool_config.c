/* pool_config: the pool's defaults and the checks that reject nonsense
 * before any thread starts. */
#include "pool/pool.h"

#include <math.h>

const double pool_wait_bucket_ms[POOL_WAIT_BUCKETS] = {1,   5,   10,   25,   50,    100,
                                                       250, 500, 1000, 5000, 30000, INFINITY};

void pool_config_defaults(pool_config *cfg)
{
    *cfg = (pool_config){
        .min_size = 2,
        .max_size = 10,
        .acquire_timeout_ms = 30 * 1000,
        .max_idle_ms = 30 * 60 * 1000,
        .health_interval_ms = 5 * 60 * 1000,
        .max_lifetime_ms = INT64_C(8) * 60 * 60 * 1000,
        .validate_after_idle_ms = 30 * 1000,
        .validation_timeout_ms = 5 * 1000,
        .leak_threshold_ms = 5 * 60 * 1000,
        .connect_timeout_ms = 10 * 1000,
        .retry_attempts = 3,
        .retry_base_ms = 200,
        .max_concurrent_connects = 2,
        .drain_timeout_ms = 10 * 1000,
    };
}

/* One rule: the field must be at least min; why says what the value means. */
static bool check_at_least(int64_t value, int64_t min, const char *field, const char *why,
                           err_t *err)
{
    if (value >= min)
        return true;
    err_set(err, ERR_INVALID, "pool config: %s is %lld but must be >= %lld (%s)", field,
            (long long)value, (long long)min, why);
    return false;
}

bool pool_config_validate(const pool_config *cfg, err_t *err)
{
    if (!check_at_least(cfg->max_size, 1, "max_size", "the pool needs one connection", err) ||
        !check_at_least(cfg->min_size, 0, "min_size", "0 opens connections only on demand", err) ||
        !check_at_least(cfg->acquire_timeout_ms, 1, "acquire_timeout_ms",
                        "a zero wait fails every busy call", err) ||
        !check_at_least(cfg->max_idle_ms, 0, "max_idle_ms", "0 never retires idle ones", err) ||
        !check_at_least(cfg->health_interval_ms, 1, "health_interval_ms", "the monitor's period",
                        err) ||
        !check_at_least(cfg->max_lifetime_ms, 0, "max_lifetime_ms", "0 means no limit", err) ||
        !check_at_least(cfg->validate_after_idle_ms, 0, "validate_after_idle_ms",
                        "0 validates on every borrow", err) ||
        !check_at_least(cfg->validation_timeout_ms, 1, "validation_timeout_ms",
                        "a ping needs time to answer", err) ||
        !check_at_least(cfg->leak_threshold_ms, 0, "leak_threshold_ms", "0 turns it off", err) ||
        !check_at_least(cfg->connect_timeout_ms, 1, "connect_timeout_ms", "a connect needs time",
                        err) ||
        !check_at_least(cfg->retry_attempts, 0, "retry_attempts", "0 tries once", err) ||
        !check_at_least(cfg->retry_base_ms, 1, "retry_base_ms",
                        "it also spaces connect rounds after a failure", err) ||
        !check_at_least(cfg->max_concurrent_connects, 1, "max_concurrent_connects",
                        "at least one connect must be allowed", err) ||
        !check_at_least(cfg->drain_timeout_ms, 0, "drain_timeout_ms", "0 closes without waiting",
                        err))
        return false;
    if (cfg->min_size > cfg->max_size) {
        err_set(err, ERR_INVALID, "pool config: min_size (%d) is larger than max_size (%d)",
                cfg->min_size, cfg->max_size);
        return false;
    }
    if (cfg->retry_attempts > 30) {
        err_set(err, ERR_INVALID,
                "pool config: retry_attempts is %d but must be <= 30 (the backoff doubles)",
                cfg->retry_attempts);
        return false;
    }
    return true;
}
