//! kafka-configs: describe and alter topic and broker configs, through a
//! broker (DescribeConfigs, IncrementalAlterConfigs/AlterConfigs) or
//! directly in ZooKeeper (/config/<type>/<name> + a change notification).

use std::time::Duration;

use kafka_protocol::messages::alter_configs_request as ac;
use kafka_protocol::messages::{AlterConfigsRequest, ApiKey};
use serde_json::Value;

use crate::admin::{self, RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC};
use crate::client::{sb, Cluster};
use crate::error::{usage, Result, ToolError};
use crate::opts::{self, flag, val, Opt, Parsed};
use crate::zk::Zk;

pub const SPECS: &[Opt] = &[
    val("bootstrap-server", "String: server to connect to", "The Kafka server to connect to. This is required for describing and altering broker configs."),
    val("zookeeper", "String: urls", "DEPRECATED. The connection string for the zookeeper connection in the form host:port."),
    val("command-config", "String: command config property file", "Property file containing configs to be passed to Admin Client."),
    val("entity-type", "String", "Type of entity (topics/clients/users/brokers/broker-loggers/ips)"),
    val("entity-name", "String", "Name of entity (topic name/client id/user principal name/broker id/ip)"),
    flag("entity-default", "Default entity name for clients/users/brokers/ips (applies to corresponding entity type in command line)"),
    val("topic", "String", "The topic's name."),
    val("broker", "String", "The broker's ID."),
    flag("broker-defaults", "The config defaults for all brokers."),
    val("broker-logger", "String", "The broker's ID for its logger config."),
    flag("describe", "List configs for the given entity."),
    flag("all", "List all configs for the given topic, broker, or broker-logger entity (includes static configuration when the entity type is brokers)"),
    flag("alter", "Alter the configuration for the entity."),
    val("add-config", "String", "Key Value pairs of configs to add. Square brackets can be used to group values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'."),
    val("add-config-file", "String", "Path to a properties file with configs to add."),
    val("delete-config", "String", "config keys to remove 'k1,k2'"),
    flag("force", "Suppress console prompts"),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str =
    "This tool helps to manipulate and describe entity config for a topic, client, user, broker or ip";

/// `k1=v1,k2=[a,b],k3=v3` -> pairs (brackets group commas).
pub fn parse_add_config(s: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    let mut items = Vec::new();
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    items.push(cur);
    for it in items.into_iter().filter(|i| !i.trim().is_empty()) {
        let Some((k, v)) = it.split_once('=') else {
            return usage(
                "Invalid entity config: all configs to be added must be in the format \"key=val\".".to_string(),
            );
        };
        let v = v.trim();
        let v = v.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(v);
        out.push((k.trim().to_string(), v.to_string()));
    }
    Ok(out)
}

struct Entity {
    kind: String,
    name: Option<String>,
}

fn entity(p: &Parsed) -> Result<Entity> {
    let specific = [("topic", "topics"), ("broker", "brokers"), ("broker-logger", "broker-loggers")];
    for (opt, kind) in specific {
        if let Some(n) = p.get(opt) {
            if p.has("entity-type") || p.has("entity-name") {
                return usage(
                    "--entity-{type,name,default} should not be used in conjunction with specific entity flags",
                );
            }
            return Ok(Entity { kind: kind.into(), name: Some(n.to_string()) });
        }
    }
    if p.has("broker-defaults") {
        return Ok(Entity { kind: "brokers".into(), name: None });
    }
    let Some(kind) = p.get("entity-type") else { return usage("At least one entity type must be specified") };
    let allowed = ["topics", "clients", "users", "brokers", "broker-loggers", "ips"];
    if !allowed.contains(&kind) {
        return usage(format!(
            "Invalid entity type {kind}, the entity type must be one of {} with the --bootstrap-server argument",
            allowed.join(", ")
        ));
    }
    Ok(Entity { kind: kind.into(), name: p.get("entity-name").map(str::to_string) })
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    if p.has("describe") == p.has("alter") {
        return usage("Command must include exactly one action: --describe, --alter");
    }
    let e = entity(&p)?;
    let adds = {
        let mut v = Vec::new();
        for a in p.all("add-config") {
            v.extend(parse_add_config(&a)?);
        }
        if let Some(f) = p.get("add-config-file") {
            if p.has("add-config") {
                return usage("Only one of --add-config or --add-config-file must be specified");
            }
            v.extend(opts::read_properties(f)?);
        }
        v
    };
    let dels = p.list("delete-config");
    if p.has("alter") {
        if e.name.is_none() && !p.has("entity-default") && !p.has("broker-defaults") {
            return usage(format!("an entity name must be specified with --alter of {}", e.kind));
        }
        if adds.is_empty() && dels.is_empty() {
            return usage(
                "At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter",
            );
        }
    }
    if e.kind == "topics" {
        if let Some(n) = &e.name {
            crate::topics_zk::validate_topic_name(n)?;
        }
    }
    match (p.get("bootstrap-server"), p.get("zookeeper")) {
        (Some(_), Some(_)) => usage("Only one of --bootstrap-server or --zookeeper must be specified"),
        (None, None) => usage("One of the required --bootstrap-server or --zookeeper arguments must be specified"),
        (None, Some(z)) => {
            if p.has("all") {
                return usage("--bootstrap-server must be specified for --all");
            }
            println!("Warning: --zookeeper is deprecated and will be removed in a future version of Kafka.");
            println!("Use --bootstrap-server instead to specify a broker to connect to.");
            with_zk(z, &p, &e, &adds, &dels).await
        }
        (Some(bs), None) => with_broker(bs, &p, &e, &adds, &dels).await,
    }
}

fn rtype(kind: &str) -> Result<i8> {
    match kind {
        "topics" => Ok(RESOURCE_TOPIC),
        "brokers" => Ok(RESOURCE_BROKER),
        "broker-loggers" => Ok(RESOURCE_BROKER_LOGGER),
        k => Err(ToolError::Msg(format!("Entity type {k} is not supported by this tool with --bootstrap-server"))),
    }
}

fn source_name(s: i8) -> &'static str {
    match s {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        _ => "UNKNOWN",
    }
}

async fn with_broker(bs: &str, p: &Parsed, e: &Entity, adds: &[(String, String)], dels: &[String]) -> Result<i32> {
    let mut cl = Cluster::connect(bs, "adminclient-1", Duration::from_secs(30)).await?;
    let rt = rtype(&e.kind)?;
    let singular = e.kind.trim_end_matches('s');
    if p.has("describe") {
        let names: Vec<String> = match &e.name {
            Some(n) => vec![n.clone()],
            None if e.kind == "topics" => {
                let md = cl.metadata(None, false).await?;
                admin::topic_names(&md, false)
            }
            None => {
                let mut v: Vec<String> = cl.brokers.keys().map(|b| b.to_string()).collect();
                v.push(String::new());
                v
            }
        };
        for n in names {
            if e.kind != "topics" && !n.is_empty() && n.parse::<i32>().is_err() {
                return usage(format!("The entity name for {} must be a valid integer broker id, found: {n}", e.kind));
            }
            let broker = if e.kind == "topics" || n.is_empty() { None } else { n.parse::<i32>().ok() };
            let res = admin::describe_configs(&mut cl, broker, rt, std::slice::from_ref(&n), true).await?;
            let Some(res) = res else {
                return Err(ToolError::Msg(format!(
                    "org.apache.kafka.common.errors.UnsupportedVersionException: The broker does not support DESCRIBE_CONFIGS ({})",
                    cl.bootstrap.join(",")
                )));
            };
            let r =
                res.into_iter().next().ok_or_else(|| ToolError::Connection("empty DescribeConfigs response".into()))?;
            if r.error_code != 0 {
                return Err(ToolError::Msg(admin::error_text(
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.as_str()),
                    &n,
                )));
            }
            let wanted: Option<i8> = if p.has("all") {
                None
            } else {
                Some(match (e.kind.as_str(), n.is_empty()) {
                    ("topics", _) => 1,
                    ("brokers", true) => 3,
                    ("brokers", false) => 2,
                    _ => -1,
                })
            };
            if n.is_empty() {
                println!("Default configs for {} in the cluster are:", e.kind);
            } else {
                println!("{} configs for {singular} {n} are:", if p.has("all") { "All" } else { "Dynamic" });
            }
            for c in r.configs.iter().filter(|c| wanted.is_none_or(|w| w < 0 || c.config_source == w)) {
                let syn: Vec<String> = c
                    .synonyms
                    .iter()
                    .map(|s| {
                        format!(
                            "{}:{}={}",
                            source_name(s.source),
                            s.name.as_str(),
                            s.value.as_ref().map(|v| v.as_str()).unwrap_or("null")
                        )
                    })
                    .collect();
                println!(
                    "  {}={} sensitive={} synonyms={{{}}}",
                    c.name.as_str(),
                    c.value.as_ref().map(|v| v.as_str()).unwrap_or("null"),
                    c.is_sensitive,
                    syn.join(", ")
                );
            }
        }
        return Ok(0);
    }
    let name = e.name.clone().unwrap_or_default();
    if e.kind == "topics" {
        let md = cl.metadata(Some(std::slice::from_ref(&name)), false).await?;
        if crate::client::topic_error(&md, &name).unwrap_or(3) != 0 {
            return Err(ToolError::Msg(format!("Error while executing config command with args '{}'\norg.apache.kafka.common.errors.UnknownTopicOrPartitionException: The topic '{name}' does not exist.", std::env::args().skip(1).collect::<Vec<_>>().join(" "))));
        }
    }
    let broker = if e.kind == "topics" || name.is_empty() { None } else { name.parse::<i32>().ok() };
    // Deleting a config that is not set fails, as in Kafka.
    let current = admin::describe_configs(&mut cl, broker, rt, std::slice::from_ref(&name), false).await?;
    let dynamic_source: i8 = if e.kind == "topics" {
        1
    } else if name.is_empty() {
        3
    } else {
        2
    };
    let current: Vec<(String, String)> = current
        .and_then(|r| r.into_iter().next())
        .map(|r| {
            r.configs
                .into_iter()
                .filter(|c| c.config_source == dynamic_source)
                .map(|c| (c.name.to_string(), c.value.map(|v| v.to_string()).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<&String> = dels.iter().filter(|d| !current.iter().any(|(k, _)| k == *d)).collect();
    if !missing.is_empty() && e.kind != "broker-loggers" {
        return Err(ToolError::Msg(format!(
            "Invalid config(s): {}",
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
        )));
    }
    let conn = match broker {
        Some(b) => cl.broker(b).await?,
        None => cl.any().await?,
    };
    if conn.supports(ApiKey::IncrementalAlterConfigs) && e.kind != "brokers" {
        let mut ops: Vec<admin::ConfigOp> = adds.iter().map(|(k, v)| (k.clone(), 0, Some(v.clone()))).collect();
        ops.extend(dels.iter().map(|k| (k.clone(), 1, Some(String::new()))));
        for (_, code, msg) in admin::incremental_alter(conn, &[(rt, name.clone(), ops)]).await? {
            if code != 0 {
                return Err(ToolError::Msg(admin::error_text(code, msg.as_deref(), &name)));
            }
        }
    } else {
        // AlterConfigs replaces the whole dynamic set.
        let mut merged: Vec<(String, String)> =
            current.into_iter().filter(|(k, _)| !dels.contains(k) && !adds.iter().any(|(a, _)| a == k)).collect();
        merged.extend(adds.iter().cloned());
        let mut res = ac::AlterConfigsResource::default();
        res.resource_type = rt;
        res.resource_name = sb(&name);
        res.configs = merged
            .iter()
            .map(|(k, v)| {
                let mut c = ac::AlterableConfig::default();
                c.name = sb(k);
                c.value = Some(sb(v));
                c
            })
            .collect();
        let mut req = AlterConfigsRequest::default();
        req.resources = vec![res];
        let v = conn.version::<AlterConfigsRequest>(2)?;
        let resp = conn.call(&req, v).await?;
        for r in resp.responses {
            if r.error_code != 0 {
                return Err(ToolError::Msg(admin::error_text(
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.as_str()),
                    &name,
                )));
            }
        }
    }
    if name.is_empty() {
        println!("Completed updating default config for {} in the cluster.", e.kind);
    } else {
        println!("Completed updating config for {singular} {name}.");
    }
    Ok(0)
}

async fn with_zk(connect: &str, p: &Parsed, e: &Entity, adds: &[(String, String)], dels: &[String]) -> Result<i32> {
    let zk = Zk::connect(connect, Duration::from_secs(30)).await?;
    let singular = e.kind.trim_end_matches('s');
    let zname = e.name.clone().unwrap_or_else(|| "<default>".into());
    let label = |n: &str| if n == "<default>" { format!("default {singular}") } else { format!("{singular} '{n}'") };
    if p.has("describe") {
        let names = match &e.name {
            Some(n) => vec![n.clone()],
            None => zk.children(&format!("/config/{}", e.kind)).await?,
        };
        for n in names {
            let cfg = zk.entity_config(&e.kind, &n).await?;
            let s: Vec<String> = cfg
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect();
            println!("Configs for {} are {}", label(&n), s.join(","));
        }
        return Ok(0);
    }
    if e.kind == "topics" && !zk.exists(&format!("/brokers/topics/{zname}")).await? {
        return Err(ToolError::Msg(format!("Topic {zname} does not exist")));
    }
    let mut cfg = zk.entity_config(&e.kind, &zname).await?;
    let missing: Vec<&String> = dels.iter().filter(|d| !cfg.contains_key(*d)).collect();
    if !missing.is_empty() {
        return Err(ToolError::Msg(format!(
            "Invalid config(s): {}",
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
        )));
    }
    for (k, v) in adds {
        cfg.insert(k.clone(), Value::String(v.clone()));
    }
    for k in dels {
        cfg.remove(k);
    }
    zk.set_entity_config(&e.kind, &zname, &cfg).await?;
    println!("Completed updating config for entity: {}.", label(&zname));
    Ok(0)
}
