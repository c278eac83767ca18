//! kafka-consumer-groups --reset-offsets: the reset scenarios and the
//! date/duration formats they accept.

use std::collections::{BTreeMap, BTreeSet};

use crate::consumer_groups::describe;
use crate::error::{usage, Result, ToolError};
use crate::fetcher::{Fetcher, Tp, EARLIEST, LATEST};
use crate::group;
use crate::opts::Parsed;

/// `topic` or `topic:0,1,2`.
pub fn parse_topic_spec(s: &str) -> Result<(String, Option<Vec<i32>>)> {
    match s.split_once(':') {
        None => Ok((s.to_string(), None)),
        Some((t, ps)) => {
            let v: std::result::Result<Vec<i32>, _> = ps.split(',').map(|x| x.trim().parse::<i32>()).collect();
            Ok((t.to_string(), Some(v.map_err(|_| ToolError::Usage(format!("Invalid partition list in '{s}'")))?)))
        }
    }
}

pub async fn reset_offsets(f: &mut Fetcher, p: &Parsed, groups: &[String]) -> Result<i32> {
    let mut all: BTreeMap<String, BTreeMap<Tp, i64>> = BTreeMap::new();
    for g in groups {
        let info = describe(&mut f.cl, g).await?;
        if p.has("execute") && !(info.state == "Empty" || info.state == "Dead") {
            println!(
                "\nError: Assignments can only be reset if the group '{g}' is inactive, but the current state is {}.",
                info.state
            );
            return Ok(1);
        }
        let committed = group::fetch_offsets(&mut f.cl, g, None).await?;
        let tps: Vec<Tp> = if p.has("all-topics") {
            let mut s: BTreeSet<Tp> = committed.keys().cloned().collect();
            for m in &info.members {
                s.extend(m.assignment.iter().cloned());
            }
            s.into_iter().collect()
        } else {
            let specs = p.all("topic");
            let names: Vec<String> =
                specs.iter().map(|s| s.split(':').next().unwrap_or_default().to_string()).collect();
            let md = f.cl.metadata(Some(&names), false).await?;
            let mut v = Vec::new();
            for s in &specs {
                let (t, parts) = parse_topic_spec(s)?;
                let parts = match parts {
                    Some(ps) => ps,
                    None => match crate::client::leaders(&md, &t) {
                        Some(m) if !m.is_empty() => m.keys().copied().collect(),
                        _ => return Err(ToolError::Msg(format!("Topic '{t}' does not exist"))),
                    },
                };
                v.extend(parts.into_iter().map(|pp| (t.clone(), pp)));
            }
            v
        };
        if tps.is_empty() {
            all.insert(g.clone(), BTreeMap::new());
            continue;
        }
        let earliest = f.list_offsets(&tps, EARLIEST).await?;
        let latest = f.list_offsets(&tps, LATEST).await?;
        let clamp = |tp: &Tp, o: i64| -> i64 {
            let lo = earliest.get(tp).copied().unwrap_or(0);
            let hi = latest.get(tp).copied().unwrap_or(o);
            o.clamp(lo, hi.max(lo))
        };
        let mut new = BTreeMap::new();
        if let Some(ts) = p
            .get("to-datetime")
            .map(parse_datetime)
            .transpose()?
            .or(p.get("by-duration").map(|d| parse_duration(d).map(|ms| crate::client::now_ms() - ms)).transpose()?)
        {
            let by_ts = f.list_offsets(&tps, ts).await?;
            for tp in &tps {
                let o =
                    by_ts.get(tp).copied().filter(|o| *o >= 0).unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0));
                new.insert(tp.clone(), o);
            }
        } else {
            for tp in &tps {
                let cur = committed.get(tp).copied();
                let o = if p.has("to-earliest") {
                    earliest.get(tp).copied().unwrap_or(0)
                } else if p.has("to-latest") {
                    latest.get(tp).copied().unwrap_or(0)
                } else if p.has("to-current") {
                    cur.unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0))
                } else if let Some(n) = p.parse_num::<i64>("to-offset")? {
                    clamp(tp, n)
                } else if let Some(n) = p.parse_num::<i64>("shift-by")? {
                    let base = cur.unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0));
                    clamp(tp, base + n)
                } else {
                    return usage("Option [reset-offsets] requires one of the following scenarios");
                };
                new.insert(tp.clone(), o);
            }
        }
        if p.has("execute") {
            group::commit_offsets(&mut f.cl, g, -1, "", &new).await?;
        }
        all.insert(g.clone(), new);
    }
    if all.values().any(|m| !m.is_empty()) {
        println!("\n{:<30} {:<30} {:<10} {:<15}", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
    }
    for (g, m) in &all {
        for ((t, pp), o) in m {
            println!("{:<30} {:<30} {:<10} {:<15}", g, t, pp, o);
        }
    }
    Ok(0)
}

/// `YYYY-MM-DDTHH:mm:SS.sss` with optional zone (`Z`, `+hh:mm`); local = UTC here.
pub fn parse_datetime(s: &str) -> Result<i64> {
    let bad = || {
        ToolError::Usage(format!(
            "Error parsing timestamp. It does not match the format 'yyyy-MM-ddTHH:mm:ss.SSS': {s}"
        ))
    };
    let (date, rest) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date.split('-').map(|x| x.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    if d.len() != 3 {
        return Err(bad());
    }
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']).filter(|i| *i >= 8) {
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = z[1..].replace(':', "");
        let hh: i64 = z.get(0..2).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let mm: i64 = z.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
        (t, sign * (hh * 60 + mm))
    } else {
        (rest, 0)
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    if t.len() != 3 {
        return Err(bad());
    }
    let ms: i64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
    let days = days_from_civil(d[0], d[1], d[2]);
    Ok(((days * 86400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000 + ms) - offset_min * 60_000)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// ISO-8601 `PnDTnHnMnS` -> milliseconds.
pub fn parse_duration(s: &str) -> Result<i64> {
    let bad = || ToolError::Usage(format!("Error parsing duration: {s}"));
    let body = s.strip_prefix('P').or(s.strip_prefix('p')).ok_or_else(bad)?;
    let (days, time) = match body.split_once(['T', 't']) {
        Some((d, t)) => (d, t),
        None => (body, ""),
    };
    let mut ms = 0i64;
    if !days.is_empty() {
        ms += days.strip_suffix(['D', 'd']).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad)? * 86_400_000;
    }
    let mut num = String::new();
    for c in time.chars() {
        match c {
            '0'..='9' | '.' | '-' => num.push(c),
            'H' | 'h' | 'M' | 'm' | 'S' | 's' => {
                let v: f64 = num.parse().map_err(|_| bad())?;
                let unit = match c.to_ascii_uppercase() {
                    'H' => 3_600_000.0,
                    'M' => 60_000.0,
                    _ => 1000.0,
                };
                ms += (v * unit) as i64;
                num.clear();
            }
            _ => return Err(bad()),
        }
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn datetime_and_duration() {
        assert_eq!(super::parse_datetime("1970-01-02T00:00:00.000").unwrap(), 86_400_000);
        assert_eq!(super::parse_datetime("2020-01-01T00:00:00.000+01:00").unwrap(), 1577833200000);
        assert_eq!(super::parse_duration("PT1H30M").unwrap(), 5_400_000);
        assert_eq!(super::parse_duration("P1DT1S").unwrap(), 86_401_000);
    }
}
