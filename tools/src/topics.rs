//! kafka-topics: create, list, describe, alter and delete topics through a
//! broker (`--bootstrap-server`) or directly in ZooKeeper (`--zookeeper`).

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::{CreatePartitionsAssignment, CreatePartitionsTopic};
use kafka_protocol::messages::{BrokerId, CreatePartitionsRequest, DeleteTopicsRequest};

use crate::admin::{self, NewTopic};
use crate::client::{tn, Cluster};
use crate::error::{codes, usage, Result, ToolError};
use crate::opts::{self, flag, val, Opt, Parsed};

pub const SPECS: &[Opt] = &[
    val("bootstrap-server", "String: server to connect to", "REQUIRED: The Kafka server to connect to. In case of providing this, a direct Zookeeper connection won't be required."),
    val("zookeeper", "String: hosts", "The connection string for the zookeeper connection in the form host:port. Multiple hosts can be given to allow fail-over."),
    val("command-config", "String: command config property file", "Property file containing configs to be passed to Admin Client."),
    flag("list", "List all available topics."),
    flag("create", "Create a new topic."),
    flag("delete", "Delete a topic"),
    flag("alter", "Alter the number of partitions, replica assignment, and/or configuration for the topic."),
    flag("describe", "List details for the given topics."),
    val("topic", "String: topic", "The topic to create, alter, describe or delete. It also accepts a regular expression, except for --create option."),
    val("topic-id", "String: topic-id", "The topic-id to describe."),
    val("config", "String: name=value", "A topic configuration override for the topic being created or altered."),
    val("delete-config", "String: name", "A topic configuration override to be removed for an existing topic (only with --zookeeper)."),
    val("partitions", "Integer: # of partitions", "The number of partitions for the topic being created or altered (WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected). If not supplied for create, defaults to the cluster default."),
    val("replication-factor", "Integer: replication factor", "The replication factor for each partition in the topic being created. If not supplied, defaults to the cluster default."),
    val("replica-assignment", "String: broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...", "A list of manual partition-to-broker assignments for the topic being created or altered."),
    flag("under-replicated-partitions", "if set when describing topics, only show under replicated partitions"),
    flag("unavailable-partitions", "if set when describing topics, only show partitions whose leader is not available"),
    flag("under-min-isr-partitions", "if set when describing topics, only show partitions whose isr count is less than the configured minimum."),
    flag("at-min-isr-partitions", "if set when describing topics, only show partitions whose isr count is equal to the configured minimum."),
    flag("topics-with-overrides", "if set when describing topics, only show topics that have overridden configs"),
    flag("if-exists", "if set when altering or deleting or describing topics, the action will only execute if the topic exists."),
    flag("if-not-exists", "if set when creating topics, the action will only execute if the topic does not already exist."),
    flag("exclude-internal", "exclude internal topics when running list or describe command. The internal topics will be listed by default"),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str = "This tool helps to create, delete, describe, or change a topic.";

/// One topic as kafka-topics --describe prints it.
pub struct TopicDesc {
    pub name: String,
    pub id: Option<String>,
    pub configs: Vec<(String, String)>,
    pub partitions: Vec<PartDesc>,
    pub marked_for_deletion: bool,
}

pub struct PartDesc {
    pub partition: i32,
    pub leader: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

pub struct Filters {
    pub under_replicated: bool,
    pub unavailable: bool,
    pub with_overrides: bool,
    pub live: BTreeSet<i32>,
}

impl Filters {
    fn from(p: &Parsed, live: BTreeSet<i32>) -> Filters {
        Filters {
            under_replicated: p.has("under-replicated-partitions"),
            unavailable: p.has("unavailable-partitions"),
            with_overrides: p.has("topics-with-overrides"),
            live,
        }
    }
    fn partition_filter(&self) -> bool {
        self.under_replicated || self.unavailable
    }
}

fn join(v: &[i32]) -> String {
    v.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",")
}

pub fn print_description(t: &TopicDesc, f: &Filters) {
    if f.with_overrides && t.configs.is_empty() {
        return;
    }
    if !f.partition_filter() {
        let rf = t.partitions.first().map(|p| p.replicas.len()).unwrap_or(0);
        let cfg = t.configs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let mut line = format!("Topic: {}", t.name);
        if let Some(id) = &t.id {
            line.push_str(&format!("\tTopicId: {id}"));
        }
        line.push_str(&format!("\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {cfg}", t.partitions.len()));
        if t.marked_for_deletion {
            line.push_str("\tMarkedForDeletion: true");
        }
        println!("{line}");
    }
    if f.with_overrides {
        return;
    }
    for p in &t.partitions {
        let has_leader = p.leader.is_some_and(|l| l >= 0 && (f.live.is_empty() || f.live.contains(&l)));
        if f.under_replicated && p.isr.len() >= p.replicas.len() {
            continue;
        }
        if f.unavailable && has_leader {
            continue;
        }
        let leader = match p.leader {
            Some(l) if l >= 0 => l.to_string(),
            _ => "none".to_string(),
        };
        let mut line = format!(
            "\tTopic: {}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}",
            t.name,
            p.partition,
            join(&p.replicas),
            join(&p.isr)
        );
        if t.marked_for_deletion {
            line.push_str("\tMarkedForDeletion: true");
        }
        println!("{line}");
    }
}

/// `0:1,1:2` -> [[0,1],[1,2]] (partition-major).
pub fn parse_assignment(s: &str) -> Result<Vec<Vec<i32>>> {
    let mut out = Vec::new();
    for (i, part) in s.split(',').enumerate() {
        let mut reps = Vec::new();
        for b in part.split(':') {
            let b = b.trim();
            let id: i32 = b
                .parse()
                .map_err(|_| ToolError::Usage(format!("Invalid replica assignment '{s}': '{b}' is not a broker id")))?;
            if reps.contains(&id) {
                return usage(format!(
                    "Partition replica lists may not contain duplicate entries: {id} in partition {i}"
                ));
            }
            reps.push(id);
        }
        if let Some(first) = out.first().map(|r: &Vec<i32>| r.len()) {
            if first != reps.len() {
                return usage(format!("Partition {i} has different replication factor: {}", join(&reps)));
            }
        }
        out.push(reps);
    }
    Ok(out)
}

/// `--topic` matching: exact, or a Java-style regex limited to `.*`/`*`.
pub fn topic_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    let glob = pattern.replace(".*", "*");
    if !glob.contains('*') {
        return false;
    }
    let parts: Vec<&str> = glob.split('*').collect();
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(j) => rest = &rest[j + p.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

pub fn select(all: &[String], pattern: Option<&str>) -> Vec<String> {
    all.iter().filter(|t| pattern.is_none_or(|p| topic_matches(p, t))).cloned().collect()
}

pub fn ensure_exists(found: &[String], pattern: Option<&str>, p: &Parsed) -> Result<()> {
    if let Some(t) = pattern {
        if found.is_empty() && !p.has("if-exists") {
            return Err(ToolError::Msg(format!("Topic '{t}' does not exist as expected")));
        }
    }
    Ok(())
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    let actions = ["list", "create", "delete", "alter", "describe"].iter().filter(|a| p.has(a)).count();
    if actions != 1 {
        return usage("Command must include exactly one action: --list, --describe, --create, --alter or --delete");
    }
    // Arguments are checked before any connection, as jopt-simple does.
    p.parse_num::<i32>("partitions")?;
    p.parse_num::<i32>("replication-factor")?;
    if let Some(a) = p.get("replica-assignment") {
        parse_assignment(a)?;
    }
    if p.has("create") && (p.has("bootstrap-server") || p.has("zookeeper")) {
        check_create_args(&p)?;
    }
    match (p.get("bootstrap-server"), p.get("zookeeper")) {
        (Some(_), Some(_)) => usage("Only one of --bootstrap-server or --zookeeper must be specified"),
        (None, None) => usage("One of the required --bootstrap-server or --zookeeper arguments must be specified"),
        (None, Some(zkc)) => crate::topics_zk::run(&p, zkc).await,
        (Some(bs), None) => {
            let mut result = run_bootstrap(&p, bs).await;
            if let Err(e) = &result {
                result = Err(ToolError::Msg(format!("Error while executing topic command : {e}")));
            }
            result
        }
    }
}

pub fn check_create_args(p: &Parsed) -> Result<()> {
    if !p.has("topic") {
        return usage("Missing required argument \"[topic]\"");
    }
    if p.has("replica-assignment") && (p.has("partitions") || p.has("replication-factor")) {
        return usage(
            "Option \"[replica-assignment]\" can't be used with option \"[partitions]\",\"[replication-factor]\"",
        );
    }
    if let Some(n) = p.parse_num::<i32>("partitions")? {
        if n < 1 {
            return usage("The partitions must be greater than 0");
        }
    }
    if let Some(n) = p.parse_num::<i32>("replication-factor")? {
        if !(1..=i16::MAX as i32).contains(&n) {
            return usage("The replication factor must be between 1 and 32767 inclusive");
        }
    }
    let t = p.req("topic")?;
    crate::topics_zk::validate_topic_name(t)?;
    if t.contains('.') || t.contains('_') {
        println!("WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.");
    }
    Ok(())
}

async fn run_bootstrap(p: &Parsed, bs: &str) -> Result<i32> {
    let timeout = Duration::from_millis(30_000);
    let mut cl = Cluster::connect(bs, "adminclient-1", timeout).await?;
    let topic = p.get("topic");
    if p.has("create") {
        let t = NewTopic {
            name: topic.unwrap_or_default().to_string(),
            partitions: p.num_or("partitions", -1)?,
            replication_factor: p.num_or::<i16>("replication-factor", -1)?,
            assignment: match p.get("replica-assignment") {
                Some(s) => parse_assignment(s)?,
                None => Vec::new(),
            },
            configs: opts::key_values(&p.all("config"))?,
        };
        let (code, m) = admin::create_topic(&mut cl, &t, timeout).await?;
        if code == codes::TOPIC_ALREADY_EXISTS && p.has("if-not-exists") {
            return Ok(0);
        }
        if code != 0 {
            return Err(ToolError::Msg(admin::error_text(code, m.as_deref(), &t.name)));
        }
        println!("Created topic {}.", t.name);
        return Ok(0);
    }
    let md = cl.metadata(None, false).await?;
    let all = admin::topic_names(&md, p.has("exclude-internal"));
    if p.has("list") {
        for t in select(&all, topic) {
            println!("{t}");
        }
        return Ok(0);
    }
    let topics = select(&all, topic);
    if p.has("describe") {
        ensure_exists(&topics, topic, p)?;
        let live: BTreeSet<i32> = cl.brokers.keys().copied().collect();
        let cfgs = admin::describe_configs(&mut cl, None, admin::RESOURCE_TOPIC, &topics, false).await?;
        for name in &topics {
            let Some(mt) = md.topics.iter().find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(name)) else {
                continue;
            };
            let configs = cfgs
                .as_ref()
                .and_then(|rs| rs.iter().find(|r| r.resource_name.as_str() == name.as_str()))
                .map(|r| {
                    r.configs
                        .iter()
                        .filter(|c| c.config_source != 5)
                        .map(|c| {
                            (
                                c.name.to_string(),
                                c.value.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "null".into()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut parts: Vec<PartDesc> = mt
                .partitions
                .iter()
                .map(|pp| PartDesc {
                    partition: pp.partition_index,
                    leader: Some(pp.leader_id.0),
                    replicas: pp.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: pp.isr_nodes.iter().map(|b| b.0).collect(),
                })
                .collect();
            parts.sort_by_key(|p| p.partition);
            let id = (!mt.topic_id.is_nil()).then(|| admin::uuid_text(&mt.topic_id));
            let d = TopicDesc { name: name.clone(), id, configs, partitions: parts, marked_for_deletion: false };
            print_description(&d, &Filters::from(p, live.clone()));
        }
        return Ok(0);
    }
    if p.has("delete") {
        ensure_exists(&topics, topic, p)?;
        if topics.is_empty() {
            return Ok(0);
        }
        if topics.iter().any(|t| t == "__consumer_offsets" || t == "__transaction_state") {
            return Err(ToolError::Msg(
                "Topic __consumer_offsets is a kafka internal topic and is not allowed to be marked for deletion."
                    .into(),
            ));
        }
        let mut req = DeleteTopicsRequest::default();
        req.topic_names = topics.iter().map(|t| tn(t)).collect();
        req.timeout_ms = 30_000;
        let conn = cl.controller().await?;
        let v = conn.version::<DeleteTopicsRequest>(5)?;
        let resp = conn.call(&req, v).await?;
        for r in resp.responses {
            if r.error_code != 0 {
                let name = r.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
                return Err(ToolError::Msg(admin::error_text(
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.as_str()),
                    &name,
                )));
            }
        }
        return Ok(0);
    }
    // --alter
    ensure_exists(&topics, topic, p)?;
    if p.has("config") || p.has("delete-config") {
        return usage(
            "Option \"[config]\" can't be used with option \"[bootstrap-server]\" when altering; use kafka-configs.sh",
        );
    }
    let Some(n) = p.parse_num::<i32>("partitions")? else {
        return usage("Missing required argument \"[partitions]\"");
    };
    let assignment = match p.get("replica-assignment") {
        Some(s) => Some(parse_assignment(s)?),
        None => None,
    };
    let mut req = CreatePartitionsRequest::default();
    req.timeout_ms = 30_000;
    for t in &topics {
        let mut ct = CreatePartitionsTopic::default();
        ct.name = tn(t);
        ct.count = n;
        // Null (the default is an empty list): the broker picks replicas.
        ct.assignments = None;
        if let Some(a) = &assignment {
            let cur = md
                .topics
                .iter()
                .find(|mt| mt.name.as_ref().map(|x| x.as_str()) == Some(t.as_str()))
                .map(|mt| mt.partitions.len())
                .unwrap_or(0);
            ct.assignments = Some(
                a.iter()
                    .skip(cur)
                    .map(|r| {
                        let mut x = CreatePartitionsAssignment::default();
                        x.broker_ids = r.iter().map(|b| BrokerId(*b)).collect();
                        x
                    })
                    .collect(),
            );
        }
        req.topics.push(ct);
    }
    let conn = cl.controller().await?;
    let v = conn.version::<CreatePartitionsRequest>(3)?;
    let resp = conn.call(&req, v).await?;
    for r in resp.results {
        if r.error_code != 0 {
            return Err(ToolError::Msg(admin::error_text(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
                &r.name.to_string(),
            )));
        }
    }
    Ok(0)
}
