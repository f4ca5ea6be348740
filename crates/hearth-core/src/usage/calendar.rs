//! UTC calendar periods for quotas: the day and the month a Unix-millisecond
//! instant falls in, as a stable label and a `[start, end)` range. Pure
//! arithmetic (civil-from-days), no time-zone database.

const DAY_MS: i64 = 86_400_000;

/// A quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One UTC day.
    Day,
    /// One UTC calendar month.
    Month,
}

/// The period around an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Stable label, `2026-11-22` or `2026-11`.
    pub label: String,
    /// First millisecond.
    pub start_ms: i64,
    /// First millisecond after it.
    pub end_ms: i64,
}

impl Period {
    /// Short name for keys and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// The span of this period containing `now_ms`.
    pub fn span(self, now_ms: i64) -> Span {
        let days = now_ms.div_euclid(DAY_MS);
        let (y, m, d) = civil_from_days(days);
        match self {
            Period::Day => Span {
                label: format!("{y:04}-{m:02}-{d:02}"),
                start_ms: days * DAY_MS,
                end_ms: (days + 1) * DAY_MS,
            },
            Period::Month => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Span {
                    label: format!("{y:04}-{m:02}"),
                    start_ms: days_from_civil(y, m, 1) * DAY_MS,
                    end_ms: days_from_civil(ny, nm, 1) * DAY_MS,
                }
            }
        }
    }
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day count since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_have_the_right_bounds() {
        // 2026-11-22T03:22:48Z
        let now = 1_795_317_768_000;
        let day = Period::Day.span(now);
        assert_eq!(day.label, "2026-11-22");
        assert!(day.start_ms <= now && now < day.end_ms);
        assert_eq!(day.end_ms - day.start_ms, DAY_MS);
        let month = Period::Month.span(now);
        assert_eq!(month.label, "2026-11");
        assert_eq!(month.end_ms - month.start_ms, 30 * DAY_MS);
        // December rolls into the next year; February 2028 is a leap month.
        let dec = Period::Month.span(days_from_civil(2026, 12, 31) * DAY_MS);
        assert_eq!(dec.label, "2026-12");
        assert_eq!(dec.end_ms, days_from_civil(2027, 1, 1) * DAY_MS);
        let feb = Period::Month.span(days_from_civil(2028, 2, 10) * DAY_MS);
        assert_eq!(feb.end_ms - feb.start_ms, 29 * DAY_MS);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
