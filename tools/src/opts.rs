//! Command-line parsing with the rules of jopt-simple, the parser behind
//! every Kafka tool: `--name value` or `--name=value`, options in any order,
//! repeatable options, unambiguous abbreviations (`--partition` for
//! `--partitions`), and jopt-simple's error sentences. Tolerates what
//! tutorials paste: em/en dashes for `--`, and comma-separated lists broken
//! by spaces (`--bootstrap-server a:1, b:2`).

use std::collections::BTreeMap;

use crate::error::{Result, ToolError};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    Required,
    /// jopt-simple's optional argument: taken only if the next word is not an option.
    Optional(&'static str),
}

pub struct Opt {
    pub name: &'static str,
    pub arg: Arg,
    pub meta: &'static str,
    pub help: &'static str,
}

/// A flag without argument.
pub const fn flag(name: &'static str, help: &'static str) -> Opt {
    Opt { name, arg: Arg::None, meta: "", help }
}

/// An option whose argument may be omitted (`default` is used then).
pub const fn opt_val(name: &'static str, meta: &'static str, default: &'static str, help: &'static str) -> Opt {
    Opt { name, arg: Arg::Optional(default), meta, help }
}

/// An option with a required argument.
pub const fn val(name: &'static str, meta: &'static str, help: &'static str) -> Opt {
    Opt { name, arg: Arg::Required, meta, help }
}

#[derive(Default, Debug)]
pub struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    pub positional: Vec<String>,
    pub help: bool,
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str)
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }
    pub fn req(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| ToolError::Usage(format!("Missing required argument \"[{name}]\"")))
    }
    pub fn parse_num<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|_| ToolError::Usage(format!("Cannot parse argument '{s}' of option {name}"))),
        }
    }
    pub fn num_or<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        Ok(self.parse_num(name)?.unwrap_or(default))
    }
    /// Values of a repeatable option, each also split on commas.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

fn normalize_dashes(a: &str) -> String {
    for d in ["\u{2014}", "\u{2013}"] {
        if let Some(rest) = a.strip_prefix(d) {
            return format!("--{}", rest.trim_start_matches('-'));
        }
    }
    a.to_string()
}

pub fn parse(specs: &[Opt], args: &[String]) -> Result<Parsed> {
    let mut out = Parsed::default();
    let mut i = 0;
    let find = |name: &str| -> Result<&Opt> {
        if let Some(o) = specs.iter().find(|o| o.name == name) {
            return Ok(o);
        }
        let cands: Vec<&Opt> = specs.iter().filter(|o| o.name.starts_with(name)).collect();
        match cands.len() {
            1 => Ok(cands[0]),
            0 => Err(ToolError::Usage(format!("{name} is not a recognized option"))),
            _ => Err(ToolError::Usage(format!("Option '{name}' is ambiguous"))),
        }
    };
    while i < args.len() {
        let a = normalize_dashes(&args[i]);
        i += 1;
        if a == "--" {
            // `-- entity-type`: a stray space after the dashes.
            if let Some(next) = args.get(i) {
                if specs.iter().any(|o| o.name == next.as_str()) {
                    let n = next.clone();
                    i += 1;
                    i = take(specs, &mut out, find(&n)?, None, args, i)?;
                    continue;
                }
            }
            out.positional.extend(args[i..].iter().cloned());
            break;
        }
        if a == "--help" || a == "-h" {
            out.help = true;
            continue;
        }
        let Some(body) = a.strip_prefix("--").or_else(|| a.strip_prefix('-').filter(|b| b.len() > 1)) else {
            out.positional.push(a);
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        let opt = find(&name)?;
        i = take(specs, &mut out, opt, inline, args, i)?;
    }
    Ok(out)
}

fn take(
    specs: &[Opt],
    out: &mut Parsed,
    opt: &Opt,
    inline: Option<String>,
    args: &[String],
    mut i: usize,
) -> Result<usize> {
    let _ = specs;
    match opt.arg {
        Arg::None => {
            out.values.entry(opt.name).or_default();
        }
        Arg::Optional(default) => {
            let v = match inline {
                Some(v) => v,
                None => match args.get(i) {
                    Some(n) if !n.starts_with('-') && !n.starts_with('\u{2014}') => {
                        i += 1;
                        n.clone()
                    }
                    _ => default.to_string(),
                },
            };
            out.values.entry(opt.name).or_default().push(v);
        }
        Arg::Required => {
            let mut v = match inline {
                Some(v) => v,
                None => {
                    let Some(v) = args.get(i) else {
                        return Err(ToolError::Usage(format!("Option {} requires an argument", opt.name)));
                    };
                    i += 1;
                    v.clone()
                }
            };
            // `a:1, b:2, c:3` split by the shell: glue the pieces back.
            while v.ends_with(',') {
                match args.get(i) {
                    Some(n) if !n.starts_with('-') && !n.starts_with('\u{2014}') => {
                        v.push_str(n);
                        i += 1;
                    }
                    _ => break,
                }
            }
            out.values.entry(opt.name).or_default().push(v);
        }
    }
    Ok(i)
}

/// jopt-simple's help layout: `Option  Description` columns.
pub fn help_text(summary: &str, specs: &[Opt]) -> String {
    let mut rows: Vec<(String, &str)> = specs
        .iter()
        .map(|o| {
            let left = match o.arg {
                Arg::None => format!("--{}", o.name),
                Arg::Required => format!("--{} <{}>", o.name, o.meta),
                Arg::Optional(_) => format!("--{} [{}]", o.name, o.meta),
            };
            (left, o.help)
        })
        .collect();
    rows.push(("--help".to_string(), "Print usage information."));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(6).max(6);
    let mut s = format!("{summary}\n");
    s.push_str(&format!("{:<w$}  Description\n{:<w$}  -----------\n", "Option", "------"));
    for (l, h) in rows {
        s.push_str(&format!("{l:<w$}  {h}\n"));
    }
    s
}

/// Parse and handle `--help`: `Ok(None)` means help was printed.
pub fn parse_or_help(summary: &str, specs: &[Opt], args: &[String]) -> Result<Option<Parsed>> {
    let p = parse(specs, args)?;
    if p.help {
        print!("{}", help_text(summary, specs));
        return Ok(None);
    }
    Ok(Some(p))
}

/// `k=v` pairs from repeated `--property`-style options and/or comma lists.
pub fn key_values(items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.trim().to_string())),
            None => Err(ToolError::Usage(format!("Invalid property: '{kv}' is not in the form key=value"))),
        })
        .collect()
}

/// A Java .properties file: `k=v` or `k: v` lines, `#`/`!` comments.
pub fn read_properties(path: &str) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ToolError::Msg(format!("Cannot read properties file {path}: {e}")))?;
    Ok(parse_properties(&text))
}

pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('!') {
            continue;
        }
        let idx = l.find(['=', ':']);
        match idx {
            Some(i) => out.push((l[..i].trim().to_string(), l[i + 1..].trim().to_string())),
            None => out.push((l.to_string(), String::new())),
        }
    }
    out
}
