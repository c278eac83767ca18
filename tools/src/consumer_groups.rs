//! kafka-consumer-groups: list, describe, reset offsets, delete.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::{DescribeGroupsRequest, GroupId, OffsetDeleteRequest};

use crate::client::{sb, tn, Cluster};
use crate::error::{usage, Result, ToolError};
use crate::fetcher::{Fetcher, Tp, EARLIEST, LATEST};
use crate::group;
use crate::opts::{self, flag, val, Opt, Parsed};

pub const SPECS: &[Opt] = &[
    val("bootstrap-server", "String: server to connect to", "REQUIRED: The server(s) to connect to."),
    val("group", "String: consumer group", "The consumer group we wish to act on."),
    val("topic", "String: topic", "The topic whose consumer group information should be deleted or topic whose should be included in the reset offset process. In `reset-offsets` case, partitions can be specified using this format: `topic1:0,1,2`. With --describe it restricts the rows to that topic."),
    flag("all-topics", "Consider all topics assigned to a group in the `reset-offsets` process."),
    flag("list", "List all consumer groups."),
    flag("describe", "Describe consumer group and list offset lag (number of messages not yet processed) related to given group."),
    flag("all-groups", "Apply to all consumer groups."),
    flag("delete", "Pass in groups to delete topic partition offsets and ownership information over the entire consumer group."),
    flag("delete-offsets", "Delete offsets of consumer group. Supports one consumer group at the time, and multiple topics."),
    val("timeout", "Long: timeout (ms)", "The timeout that can be set for some use cases. For example, it can be used when describing the group to specify the maximum amount of time in milliseconds to wait before the group stabilizes (when the group is just created, or is going through some changes). (default: 5000)"),
    val("command-config", "String: command config property file", "Property file containing configs to be passed to Admin Client and Consumer."),
    flag("reset-offsets", "Reset offsets of consumer group. Supports one consumer group at the time, and instances should be inactive."),
    flag("dry-run", "Only show results without executing changes on Consumer Groups. Supported operations: reset-offsets."),
    flag("execute", "Execute operation. Supported operations: reset-offsets."),
    flag("export", "Export operation execution to a CSV file. Supported operations: reset-offsets."),
    val("to-offset", "Long: offset", "Reset offsets to a specific offset."),
    val("to-datetime", "String: datetime", "Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'"),
    val("by-duration", "String: duration", "Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'"),
    flag("to-earliest", "Reset offsets to earliest offset."),
    flag("to-latest", "Reset offsets to latest offset."),
    flag("to-current", "Reset offsets to current offset."),
    val("shift-by", "Long: number-of-offsets", "Reset offsets shifting current offset by 'n', where 'n' can be positive or negative."),
    flag("members", "Describe members of the group. This option may be used with '--describe' and '--bootstrap-server' options only."),
    flag("verbose", "Provide additional information, if any, when describing the group."),
    flag("offsets", "Describe the group and list all topic partitions in the group along with their offset lag. This is the default sub-action."),
    flag("state", "When specified with '--describe', includes the state of the group. When specified with '--list', it displays the state of all groups."),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str = "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets.";

const SCENARIOS: &[&str] =
    &["to-offset", "to-datetime", "by-duration", "to-earliest", "to-latest", "to-current", "shift-by"];

struct MemberInfo {
    id: String,
    instance: String,
    client_id: String,
    host: String,
    assignment: Vec<Tp>,
}

struct GroupInfo {
    state: String,
    strategy: String,
    members: Vec<MemberInfo>,
    coordinator: i32,
}

fn check_args(p: &Parsed) -> Result<()> {
    let actions = ["list", "describe", "delete", "reset-offsets", "delete-offsets"].iter().filter(|a| p.has(a)).count();
    if actions != 1 {
        return usage(
            "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets",
        );
    }
    if !p.has("bootstrap-server") {
        return usage("Missing required argument \"[bootstrap-server]\"");
    }
    let scoped = p.has("group") || p.has("all-groups");
    if p.has("group") && p.has("all-groups") {
        return usage("Option \"[group]\" can't be used with option \"[all-groups]\"");
    }
    if p.has("describe") {
        if !scoped {
            return usage("Option [describe] takes one of these options: [all-groups], [group]");
        }
        if ["members", "offsets", "state"].iter().filter(|o| p.has(o)).count() > 1 {
            return usage("Option [describe] takes at most one of these options: [members], [offsets], [state]");
        }
    }
    if p.has("delete") {
        if !scoped {
            return usage("Option [delete] takes one of these options: [all-groups], [group]");
        }
        if p.has("topic") {
            return usage("The consumer does not support topic-specific offset deletion from a consumer group.");
        }
    }
    if p.has("delete-offsets") && !(p.has("group") && p.has("topic")) {
        return usage("Option [delete-offsets] takes the following options: [topic], [group]");
    }
    if p.has("reset-offsets") {
        if p.has("dry-run") && p.has("execute") {
            return usage("Option [reset-offsets] only accepts one of [execute] and [dry-run]");
        }
        if !p.has("dry-run") && !p.has("execute") {
            eprintln!("WARN: No action will be performed as the --execute option is missing.In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.");
        }
        if !scoped {
            return usage("Option [reset-offsets] takes one of these options: [all-groups], [group]");
        }
        let n = SCENARIOS.iter().filter(|s| p.has(s)).count();
        if n == 0 {
            return usage("Option [reset-offsets] requires one of the following scenarios: [to-offset], [to-datetime], [by-duration], [to-earliest], [to-latest], [to-current], [shift-by], [from-file]");
        }
        if n > 1 {
            return usage("Option [reset-offsets] takes only one reset scenario");
        }
        if !p.has("all-topics") && !p.has("topic") {
            return usage("One of the reset scopes should be defined: --all-topics, --topic.");
        }
    }
    if p.has("list") && p.has("topic") {
        return usage("Option \"[topic]\" can't be used with option \"[list]\"");
    }
    Ok(())
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    check_args(&p)?;
    let timeout = Duration::from_millis(p.num_or("timeout", 5000u64)?.max(1));
    let cl = Cluster::connect(p.req("bootstrap-server")?, "adminclient-1", timeout.max(Duration::from_secs(5))).await?;
    let mut f = Fetcher::new(cl);
    if p.has("list") {
        let groups = crate::admin::list_groups(&mut f.cl).await?;
        let groups: Vec<_> = groups.into_iter().filter(|(_, pt, _)| pt.is_empty() || pt == "consumer").collect();
        if p.has("state") {
            let w = groups.iter().map(|g| g.0.len()).max().unwrap_or(0).max(15);
            println!("{:<w$} {}", "GROUP", "STATE");
            for (g, _, st) in &groups {
                let st = if st.is_empty() {
                    describe(&mut f.cl, g).await.map(|i| i.state).unwrap_or_default()
                } else {
                    st.clone()
                };
                println!("{g:<w$} {st}");
            }
        } else {
            for (g, _, _) in groups {
                println!("{g}");
            }
        }
        return Ok(0);
    }
    let groups: Vec<String> = if p.has("all-groups") {
        crate::admin::list_groups(&mut f.cl).await?.into_iter().map(|g| g.0).collect()
    } else {
        p.list("group")
    };
    if p.has("describe") {
        for g in &groups {
            describe_one(&mut f, &p, g).await?;
        }
        return Ok(0);
    }
    if p.has("delete") {
        return delete_groups(&mut f.cl, &groups).await;
    }
    if p.has("delete-offsets") {
        return delete_offsets(&mut f.cl, &groups[0], &p).await;
    }
    reset_offsets(&mut f, &p, &groups).await
}

async fn describe(cl: &mut Cluster, g: &str) -> Result<GroupInfo> {
    let coord = cl.coordinator(g, 0).await?;
    let conn = cl.broker(coord).await?;
    let mut req = DescribeGroupsRequest::default();
    req.groups = vec![GroupId(sb(g))];
    let v = conn.version::<DescribeGroupsRequest>(5)?;
    let resp = conn.call(&req, v).await?;
    let d =
        resp.groups.into_iter().next().ok_or_else(|| ToolError::Connection("empty DescribeGroups response".into()))?;
    crate::error::check(d.error_code, || format!("DescribeGroups {g}"))?;
    Ok(GroupInfo {
        state: d.group_state.to_string(),
        strategy: d.protocol_data.to_string(),
        coordinator: coord,
        members: d
            .members
            .into_iter()
            .map(|m| MemberInfo {
                id: m.member_id.to_string(),
                instance: m.group_instance_id.map(|s| s.to_string()).unwrap_or_default(),
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                assignment: if d.protocol_type.as_str() == "consumer" {
                    group::decode_assignment(m.member_assignment)
                } else {
                    Vec::new()
                },
            })
            .collect(),
    })
}

/// Kafka prints these after a blank line; returns whether to print the table.
fn should_print(g: &str, state: &str, rows: usize) -> bool {
    match state {
        "Dead" => {
            println!("\nError: Consumer group '{g}' does not exist.");
            return false;
        }
        "Empty" => eprintln!("\nConsumer group '{g}' has no active members."),
        "PreparingRebalance" | "CompletingRebalance" => eprintln!("\nWarning: Consumer group '{g}' is rebalancing."),
        _ => {}
    }
    rows > 0 || state != "Dead"
}

async fn describe_one(f: &mut Fetcher, p: &Parsed, g: &str) -> Result<()> {
    let info = describe(&mut f.cl, g).await?;
    if p.has("state") {
        if !should_print(g, &info.state, 1) {
            return Ok(());
        }
        let c =
            f.cl.brokers
                .get(&info.coordinator)
                .map(|b| format!("{}:{} ({})", b.host, b.port, b.id))
                .unwrap_or_default();
        let w = c.len().max(25);
        print!(
            "\n{:<w$} {:<25} {:<20} {:<15} {}",
            "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"
        );
        println!("\n{:<w$} {:<25} {:<20} {:<15} {}", g, c, info.strategy, info.state, info.members.len());
        return Ok(());
    }
    if p.has("members") {
        if !should_print(g, &info.state, info.members.len()) {
            return Ok(());
        }
        let wg = g.len().max(15);
        let wc = info.members.iter().map(|m| m.id.len()).max().unwrap_or(0).max(15);
        let wi = info.members.iter().map(|m| m.instance.len()).max().unwrap_or(0).max(17);
        let wh = info.members.iter().map(|m| m.host.len()).max().unwrap_or(0).max(15);
        let wl = info.members.iter().map(|m| m.client_id.len()).max().unwrap_or(0).max(15);
        let with_inst = info.members.iter().any(|m| !m.instance.is_empty());
        if with_inst {
            print!(
                "\n{:<wg$} {:<wc$} {:<wi$} {:<wh$} {:<wl$} {:<15} ",
                "GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS"
            );
        } else {
            print!(
                "\n{:<wg$} {:<wc$} {:<wh$} {:<wl$} {:<15} ",
                "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"
            );
        }
        if p.has("verbose") {
            print!("ASSIGNMENT");
        }
        println!();
        for m in &info.members {
            if with_inst {
                print!(
                    "{:<wg$} {:<wc$} {:<wi$} {:<wh$} {:<wl$} {:<15} ",
                    g,
                    m.id,
                    m.instance,
                    m.host,
                    m.client_id,
                    m.assignment.len()
                );
            } else {
                print!("{:<wg$} {:<wc$} {:<wh$} {:<wl$} {:<15} ", g, m.id, m.host, m.client_id, m.assignment.len());
            }
            if p.has("verbose") {
                let mut by: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                for (t, pp) in &m.assignment {
                    by.entry(t).or_default().push(*pp);
                }
                let s: Vec<String> = by
                    .iter_mut()
                    .map(|(t, ps)| {
                        ps.sort();
                        format!("{t}({})", ps.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
                    })
                    .collect();
                print!("{}", if s.is_empty() { "-".to_string() } else { s.join(", ") });
            }
            println!();
        }
        return Ok(());
    }
    // Offsets (default).
    let committed = group::fetch_offsets(&mut f.cl, g, None).await?;
    let topic_filter = p.get("topic");
    let keep = |t: &str| topic_filter.is_none_or(|f| f == t);
    let mut rows: Vec<(Tp, Option<i64>, Option<&MemberInfo>)> = Vec::new();
    let mut members: Vec<&MemberInfo> = info.members.iter().filter(|m| !m.assignment.is_empty()).collect();
    members.sort_by(|a, b| b.assignment.len().cmp(&a.assignment.len()));
    let mut assigned = BTreeSet::new();
    for m in &members {
        for tp in &m.assignment {
            assigned.insert(tp.clone());
            if keep(&tp.0) {
                rows.push((tp.clone(), committed.get(tp).copied(), Some(m)));
            }
        }
    }
    for (tp, o) in &committed {
        if !assigned.contains(tp) && keep(&tp.0) {
            rows.push((tp.clone(), Some(*o), None));
        }
    }
    let tps: Vec<Tp> = rows.iter().map(|r| r.0.clone()).collect();
    let ends = if tps.is_empty() { BTreeMap::new() } else { f.list_offsets(&tps, LATEST).await? };
    if info.state == "Dead" && rows.is_empty() {
        println!("\nError: Consumer group '{g}' does not exist.");
        return Ok(());
    }
    if !should_print(g, &info.state, rows.len()) {
        return Ok(());
    }
    let dash = "-".to_string();
    let wg = g.len().max(15);
    let wt = rows.iter().map(|r| r.0 .0.len()).max().unwrap_or(0).max(15);
    let wc = rows.iter().map(|r| r.2.map_or(1, |m| m.id.len())).max().unwrap_or(0).max(15);
    let wh = rows.iter().map(|r| r.2.map_or(1, |m| m.host.len())).max().unwrap_or(0).max(15);
    println!(
        "\n{:<wg$} {:<wt$} {:<10} {:<15} {:<15} {:<15} {:<wc$} {:<wh$} {}",
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"
    );
    for (tp, off, m) in rows {
        let end = ends.get(&tp).copied();
        let lag = match (off, end) {
            (Some(o), Some(e)) => (e - o).max(0).to_string(),
            _ => dash.clone(),
        };
        println!(
            "{:<wg$} {:<wt$} {:<10} {:<15} {:<15} {:<15} {:<wc$} {:<wh$} {}",
            g,
            tp.0,
            tp.1,
            off.map_or(dash.clone(), |o| o.to_string()),
            end.map_or(dash.clone(), |e| e.to_string()),
            lag,
            m.map_or(&dash, |m| &m.id),
            m.map_or(&dash, |m| &m.host),
            m.map_or(&dash, |m| &m.client_id),
        );
    }
    Ok(())
}

async fn delete_groups(cl: &mut Cluster, groups: &[String]) -> Result<i32> {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for g in groups {
        let coord = cl.coordinator(g, 0).await?;
        let conn = cl.broker(coord).await?;
        let v = conn.version::<DeleteGroupsRequest>(2)?;
        let mut req = DeleteGroupsRequest::default();
        req.groups_names = vec![GroupId(sb(g))];
        let resp = conn.call(&req, v).await?;
        for r in resp.results {
            if r.error_code == 0 {
                ok.push(r.group_id.to_string());
            } else {
                let e = kafka_protocol::error::ResponseError::try_from_code(r.error_code)
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                failed.push((r.group_id.to_string(), e));
            }
        }
    }
    if failed.is_empty() {
        println!(
            "Deletion of requested consumer groups ({}) was successful.",
            ok.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ")
        );
        return Ok(0);
    }
    println!("\nError: Deletion of some consumer groups failed:");
    for (g, e) in &failed {
        println!("* Group '{g}' could not be deleted due to: {e}");
    }
    if !ok.is_empty() {
        println!(
            "\nThese consumer groups were deleted successfully: {}",
            ok.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(1)
}

async fn delete_offsets(cl: &mut Cluster, g: &str, p: &Parsed) -> Result<i32> {
    let topics = p.all("topic");
    let md = cl
        .metadata(
            Some(&topics.iter().map(|t| t.split(':').next().unwrap_or_default().to_string()).collect::<Vec<_>>()),
            false,
        )
        .await?;
    let mut req = OffsetDeleteRequest::default();
    req.group_id = GroupId(sb(g));
    for spec in &topics {
        let (t, parts) = parse_topic_spec(spec)?;
        let parts = match parts {
            Some(ps) => ps,
            None => crate::client::leaders(&md, &t).map(|m| m.keys().copied().collect()).unwrap_or_default(),
        };
        let mut ot = OffsetDeleteRequestTopic::default();
        ot.name = tn(&t);
        ot.partitions = parts
            .into_iter()
            .map(|pp| {
                let mut x = OffsetDeleteRequestPartition::default();
                x.partition_index = pp;
                x
            })
            .collect();
        req.topics.push(ot);
    }
    let coord = cl.coordinator(g, 0).await?;
    let conn = cl.broker(coord).await?;
    let v = conn.version::<OffsetDeleteRequest>(0)?;
    let resp = conn.call(&req, v).await?;
    if resp.error_code != 0 {
        let e = ToolError::kafka(resp.error_code, format!("OffsetDelete {g}"));
        println!("\nError: Encounter some unknown error: {e}");
        return Ok(1);
    }
    println!("Request succeed for deleting offsets with topic {} group {g}", topics.join(", "));
    println!("\n{:<30} {:<15} {:<15}", "TOPIC", "PARTITION", "STATUS");
    for t in resp.topics {
        for pp in t.partitions {
            let st = if pp.error_code == 0 {
                "Successful".to_string()
            } else {
                format!("Error: {}", ToolError::kafka(pp.error_code, ""))
            };
            println!("{:<30} {:<15} {:<15}", t.name.as_str(), pp.partition_index, st);
        }
    }
    Ok(0)
}

/// `topic` or `topic:0,1,2`.
fn parse_topic_spec(s: &str) -> Result<(String, Option<Vec<i32>>)> {
    match s.split_once(':') {
        None => Ok((s.to_string(), None)),
        Some((t, ps)) => {
            let v: std::result::Result<Vec<i32>, _> = ps.split(',').map(|x| x.trim().parse::<i32>()).collect();
            Ok((t.to_string(), Some(v.map_err(|_| ToolError::Usage(format!("Invalid partition list in '{s}'")))?)))
        }
    }
}

async fn reset_offsets(f: &mut Fetcher, p: &Parsed, groups: &[String]) -> Result<i32> {
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
