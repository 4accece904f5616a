//! Durations, written one way on every flag that takes one: whole numbers with a unit, `s`, `m`,
//! `h` or `d`, optionally chained from the largest unit down (`90s`, `15m`, `24h`, `7d`,
//! `1h30m`). [`parse`] is the one parser; the others convert its result to the unit a use case
//! takes, refusing what does not fit it exactly (`90s` is not a whole number of minutes).

use std::time::Duration;

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

fn usage(s: &str) -> String {
    format!("{s:?}: write a duration as a number and a unit (s, m, h, d), e.g. 90s, 15m, 24h, 7d")
}

/// `90s`, `15m`, `24h`, `7d`, `1h30m`: at least one `<number><unit>`, units from the largest
/// down, each at most once; no bare numbers (a number alone is ambiguous) and no zero total.
pub fn parse(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let mut rest = text;
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen: the next must be smaller.
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| usage(text))?;
        let n: u64 = rest[..digits].parse().map_err(|_| usage(text))?;
        let unit = rest[digits..].chars().next().ok_or_else(|| usage(text))?;
        let i = UNITS
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(|| usage(text))?;
        if last.is_some_and(|l| i <= l) {
            return Err(usage(text));
        }
        last = Some(i);
        total = n
            .checked_mul(UNITS[i].1)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| format!("{text:?}: too long"))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    if last.is_none() {
        return Err(usage(text));
    }
    if total == 0 {
        return Err(format!("{text:?}: must be longer than zero"));
    }
    Ok(Duration::from_secs(total))
}

/// A duration in whole seconds.
pub fn seconds(s: &str) -> Result<u64, String> {
    parse(s).map(|d| d.as_secs())
}

fn whole(s: &str, unit: u64, name: &str) -> Result<u32, String> {
    let secs = parse(s)?.as_secs();
    if secs % unit != 0 {
        return Err(format!("{:?}: must be a whole number of {name}", s.trim()));
    }
    u32::try_from(secs / unit).map_err(|_| format!("{:?}: too long", s.trim()))
}

/// A duration in whole minutes (`30m`, `2h`).
pub fn minutes(s: &str) -> Result<u32, String> {
    whole(s, 60, "minutes")
}

/// A duration in whole days (`90d`).
pub fn days(s: &str) -> Result<u32, String> {
    whole(s, 86_400, "days")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_syntax() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse(" 1h30m "), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("1d2h3m4s"), Ok(Duration::from_secs(93_784)));
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "45",
            "m",
            "2w",
            "1.5h",
            "-1m",
            "30m1h",
            "1m1m",
            "1h 30m",
            "0s",
            "0h0m",
            "30 m",
            "99999999999999999999d",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse("45").unwrap_err().contains("e.g. 90s, 15m, 24h, 7d"));
        assert!(parse("213503982334602d").unwrap_err().contains("too long"));
    }

    #[test]
    fn conversions_refuse_what_does_not_fit() {
        assert_eq!(minutes("30m"), Ok(30));
        assert_eq!(minutes("2h"), Ok(120));
        assert_eq!(minutes("1d"), Ok(1_440));
        assert!(minutes("90s")
            .unwrap_err()
            .contains("whole number of minutes"));
        assert_eq!(days("90d"), Ok(90));
        assert!(days("36h").unwrap_err().contains("whole number of days"));
        assert_eq!(seconds("15m"), Ok(900));
        assert_eq!(seconds("30d"), Ok(2_592_000));
    }
}
