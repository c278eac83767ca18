//! kafka-consumer-groups: list, describe, reset offsets, delete.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::{DescribeGroupsRequest, GroupId, OffsetDeleteRequest};

use crate::client::{sb, tn, Cluster};
use crate::error::{usage, Result, ToolError};
use crate::fetcher::{Fetcher, Tp, LATEST};
use crate::group;
use crate::group_reset::{parse_topic_spec, reset_offsets};
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

pub struct MemberInfo {
    pub id: String,
    pub instance: String,
    pub client_id: String,
    pub host: String,
    pub assignment: Vec<Tp>,
}

pub struct GroupInfo {
    pub state: String,
    pub strategy: String,
    pub members: Vec<MemberInfo>,
    pub coordinator: i32,
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
            println!("{:<w$} STATE", "GROUP");
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

pub async fn describe(cl: &mut Cluster, g: &str) -> Result<GroupInfo> {
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
        print!("\n{:<w$} {:<25} {:<20} {:<15} #MEMBERS", "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE");
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
    members.sort_by_key(|m| std::cmp::Reverse(m.assignment.len()));
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
        "\n{:<wg$} {:<wt$} {:<10} {:<15} {:<15} {:<15} {:<wc$} {:<wh$} CLIENT-ID",
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST"
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
