//! Comparing limits with the policy's: a stricter setting than the policy
//! asks for is compliant, and a fix must never loosen it. Shared by the
//! verdicts and by the fix planner so both judge the same way.

use crate::policy::{ByteSize, Policy, Ulimit};

/// One ulimit value as an ordered number. `-1` is unlimited, so above any
/// number; dockerd hands other negatives to setrlimit as the same huge
/// unsigned value, so they count as unlimited too.
pub fn limit_rank(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// A ulimit value for evidence: `-1 (unlimited)` rather than a bare `-1`.
pub fn show_limit(v: i64) -> String {
    if v < 0 {
        format!("{v} (unlimited)")
    } else {
        v.to_string()
    }
}

/// The smaller of two limit values; on a tie, `b` (the policy's, so an
/// unlimited value is written the canonical way).
fn min_limit(a: i64, b: i64) -> i64 {
    if limit_rank(a) < limit_rank(b) {
        a
    } else {
        b
    }
}

/// Whether `u` is as tight as `policy` or tighter, soft and hard each.
pub fn ulimit_within(u: Ulimit, policy: Ulimit) -> bool {
    limit_rank(u.soft) <= limit_rank(policy.soft) && limit_rank(u.hard) <= limit_rank(policy.hard)
}

/// What a fix writes for a default ulimit: per soft and hard, the tighter of
/// the current value and the policy's, so a stricter setting is kept.
pub fn tighter_ulimit(current: Option<Ulimit>, policy: Ulimit) -> Ulimit {
    let Some(cur) = current else {
        return policy;
    };
    let hard = min_limit(cur.hard, policy.hard);
    let soft = min_limit(cur.soft, policy.soft);
    // A current soft above its own hard would survive the min; dockerd
    // refuses soft > hard, so clamp it.
    let soft = if limit_rank(soft) > limit_rank(hard) {
        hard
    } else {
        soft
    };
    Ulimit { soft, hard }
}

/// What one container may keep on disk: `max-size` × `max-file`.
pub fn log_total(max_size: &ByteSize, max_file: u32) -> u64 {
    max_size.bytes.saturating_mul(u64::from(max_file))
}

/// The policy's bound on what one container may keep on disk.
pub fn policy_log_total(policy: &Policy) -> u64 {
    log_total(&policy.log_max_size, policy.log_max_file)
}

/// A byte count in log-opts notation (`150m`) when it is a whole multiple,
/// else in bytes.
pub fn show_bytes(b: u64) -> String {
    for (suffix, shift) in [("t", 40), ("g", 30), ("m", 20), ("k", 10)] {
        let unit = 1u64 << shift;
        if b >= unit && b % unit == 0 {
            return format!("{}{suffix}", b / unit);
        }
    }
    b.to_string()
}

/// A `max-file` value as dockerd accepts it: a number, at least 1.
pub fn parse_max_file(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(0) => Err(format!(
            "max-file `{s}`: dockerd refuses less than 1 and will not start the container"
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("max-file `{s}` is not a number")),
    }
}

/// What the log-config fix writes as `max-size` (the text) and `max-file`.
/// A current pair that is set, valid and within the policy's total is kept
/// as it is; otherwise each option is the smaller of the current (when set
/// and valid) and the policy's, so the total is within the policy's.
pub fn bounded_log_opts(
    current_max_size: Option<&str>,
    current_max_file: Option<&str>,
    policy: &Policy,
) -> (String, u32) {
    let size = current_max_size.and_then(|s| ByteSize::parse(s).ok());
    let file = current_max_file.and_then(|s| parse_max_file(s).ok());
    if let (Some(s), Some(n)) = (&size, file) {
        if log_total(s, n) <= policy_log_total(policy) {
            return (s.text.clone(), n);
        }
    }
    let size = match size {
        Some(s) if s.bytes <= policy.log_max_size.bytes => s.text,
        _ => policy.log_max_size.text.clone(),
    };
    let file = match file {
        Some(n) if n <= policy.log_max_file => n,
        _ => policy.log_max_file,
    };
    (size, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(soft: i64, hard: i64) -> Ulimit {
        Ulimit { soft, hard }
    }

    #[test]
    fn unlimited_is_the_loosest() {
        assert!(limit_rank(-1) > limit_rank(i64::MAX));
        assert!(ulimit_within(u(1024, 2048), u(20480, 40960)));
        assert!(ulimit_within(u(20480, 40960), u(20480, 40960)));
        assert!(!ulimit_within(u(20480, 50000), u(20480, 40960)));
        assert!(!ulimit_within(u(-1, -1), u(20480, 40960)));
        assert!(!ulimit_within(u(1024, -1), u(20480, 40960)));
        assert!(ulimit_within(u(1024, 2048), u(-1, -1)));
    }

    #[test]
    fn tighter_ulimit_never_loosens() {
        let p = u(20480, 40960);
        assert_eq!(tighter_ulimit(None, p), p);
        // Stricter than the policy: kept.
        assert_eq!(tighter_ulimit(Some(u(1024, 4096)), p), u(1024, 4096));
        // Looser: the policy's.
        assert_eq!(tighter_ulimit(Some(u(65536, 65536)), p), p);
        assert_eq!(tighter_ulimit(Some(u(-1, -1)), p), p);
        // Mixed: each side on its own.
        assert_eq!(tighter_ulimit(Some(u(4096, -1)), p), u(4096, 40960));
        assert_eq!(tighter_ulimit(Some(u(30000, 35000)), p), u(20480, 35000));
        // A current hard below the policy's soft pulls the soft down with it.
        assert_eq!(tighter_ulimit(Some(u(30000, 10000)), p), u(10000, 10000));
        // An unlimited policy keeps whatever is set.
        assert_eq!(tighter_ulimit(Some(u(10, 20)), u(-1, -1)), u(10, 20));
        assert_eq!(tighter_ulimit(Some(u(-1, -1)), u(-1, -1)), u(-1, -1));
    }

    #[test]
    fn totals() {
        let p = Policy::default();
        assert_eq!(policy_log_total(&p), 150 << 20);
        assert_eq!(show_bytes(150 << 20), "150m");
        assert_eq!(show_bytes(1 << 30), "1g");
        assert_eq!(show_bytes(3072), "3k");
        assert_eq!(show_bytes(1536), "1536");
        assert_eq!(show_bytes(1000), "1000");
        assert_eq!(log_total(&ByteSize::parse("10m").unwrap(), 5), 50 << 20);
        assert!(parse_max_file("0").is_err());
        assert!(parse_max_file("x").is_err());
        assert_eq!(parse_max_file("3"), Ok(3));
    }

    #[test]
    fn bounded_log_opts_keeps_a_stricter_pair() {
        let p = Policy::default();
        let b = |s, f| bounded_log_opts(s, f, &p);
        // Within the 150m total, even with more files than the policy's.
        assert_eq!(b(Some("10m"), Some("5")), ("10m".to_string(), 5));
        assert_eq!(b(Some("100m"), Some("1")), ("100m".to_string(), 1));
        assert_eq!(b(Some("50m"), Some("3")), ("50m".to_string(), 3));
        // Nothing set: the policy's.
        assert_eq!(b(None, None), ("50m".to_string(), 3));
        // Above the total: per option the smaller.
        assert_eq!(b(Some("60m"), Some("3")), ("50m".to_string(), 3));
        assert_eq!(b(Some("40m"), Some("10")), ("40m".to_string(), 3));
        assert_eq!(b(Some("1g"), Some("2")), ("50m".to_string(), 2));
        // One missing: the other kept when smaller, the missing one the policy's.
        assert_eq!(b(Some("10m"), None), ("10m".to_string(), 3));
        assert_eq!(b(Some("100m"), None), ("50m".to_string(), 3));
        assert_eq!(b(None, Some("2")), ("50m".to_string(), 2));
        // Invalid values count as unset.
        assert_eq!(b(Some("fifty"), Some("0")), ("50m".to_string(), 3));
        assert_eq!(b(Some("10m"), Some("many")), ("10m".to_string(), 3));
        for (s, f) in [
            (Some("60m"), Some("3")),
            (Some("100m"), None),
            (Some("1k"), Some("1000000")),
        ] {
            let (size, file) = b(s, f);
            let total = log_total(&ByteSize::parse(&size).unwrap(), file);
            assert!(total <= policy_log_total(&p), "{s:?} {f:?}");
        }
    }
}
