//! argparse4j's rules, used by the Java tools that are not built on
//! jopt-simple (verifiable producer/consumer): unknown flags and any
//! positional word are "unrecognized arguments", errors print the usage
//! line then `<prog>: error: <message>` on stderr, status 1. Values are
//! then read with the same table as `opts`.

use crate::error::{Result, ToolError};
use crate::opts::{self, Arg, Opt, Parsed};

pub struct Spec<'a> {
    pub prog: &'static str,
    pub description: &'static str,
    pub opts: &'a [Opt],
    /// Options that must be present.
    pub required: &'a [&'static str],
    /// One option of this group is required (a required mutex group).
    pub one_of: &'a [&'static str],
}

impl Spec<'_> {
    pub fn usage(&self) -> String {
        let mut s = format!("usage: {} [-h]", self.prog);
        for o in self.opts.iter().filter(|o| !self.one_of.contains(&o.name)) {
            let body = match o.arg {
                Arg::None => format!("--{}", o.name),
                _ => format!("--{} {}", o.name, o.meta),
            };
            if self.required.contains(&o.name) {
                s.push_str(&format!(" {body}"));
            } else {
                s.push_str(&format!(" [{body}]"));
            }
        }
        if !self.one_of.is_empty() {
            let g: Vec<String> = self
                .opts
                .iter()
                .filter(|o| self.one_of.contains(&o.name))
                .map(|o| format!("--{} {}", o.name, o.meta))
                .collect();
            s.push_str(&format!(" ({})", g.join(" | ")));
        }
        s
    }

    fn fail<T>(&self, msg: String) -> Result<T> {
        eprintln!("{}", self.usage());
        eprintln!("{}: error: {msg}", self.prog);
        Err(ToolError::Reported(1))
    }

    fn help(&self) -> String {
        let mut s = format!(
            "{}\n\n{}\n\noptional arguments:\n  -h, --help             show this help message and exit\n",
            self.usage(),
            self.description
        );
        for o in self.opts {
            let left = match o.arg {
                Arg::None => format!("--{}", o.name),
                _ => format!("--{} {}", o.name, o.meta),
            };
            s.push_str(&format!("  {left:<22} {}\n", o.help));
        }
        s
    }

    /// `Ok(None)`: help was printed (also for no arguments at all, as the tools do).
    pub fn parse(&self, args: &[String]) -> Result<Option<Parsed>> {
        if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
            print!("{}", self.help());
            return Ok(None);
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let is_flag = a.starts_with('-') && a.len() > 1 && a.parse::<f64>().is_err();
            if !is_flag {
                return self.fail(format!("unrecognized arguments: '{}'", args[i..].join(" ")));
            }
            let name = a.trim_start_matches('-');
            let (name, inline) = match name.split_once('=') {
                Some((n, _)) => (n, true),
                None => (name, false),
            };
            let exact = self.opts.iter().find(|o| o.name == name);
            let cands: Vec<&Opt> = self.opts.iter().filter(|o| o.name.starts_with(name)).collect();
            let o = match (exact, cands.len()) {
                (Some(o), _) => o,
                (None, 1) => cands[0],
                (None, 0) => return self.fail(format!("unrecognized arguments: '{a}'")),
                (None, _) => {
                    let names: Vec<String> = cands.iter().map(|o| format!("--{}", o.name)).collect();
                    return self.fail(format!("ambiguous option: {a} could match {}", names.join(", ")));
                }
            };
            i += 1;
            if o.arg != Arg::None && !inline {
                match args.get(i) {
                    Some(v) if !(v.starts_with('-') && v.len() > 1 && v.parse::<f64>().is_err()) => i += 1,
                    _ => return self.fail(format!("argument --{}: expected one argument", o.name)),
                }
            }
        }
        let p = opts::parse(self.opts, args).or_else(|e| self.fail(e.to_string()))?;
        for r in self.required {
            if !p.has(r) {
                return self.fail(format!("argument --{r} is required"));
            }
        }
        let given: Vec<&&str> = self.one_of.iter().filter(|o| p.has(o)).collect();
        if !self.one_of.is_empty() && given.is_empty() {
            let names: Vec<String> = self.one_of.iter().map(|o| format!("--{o}")).collect();
            return self.fail(format!("one of the arguments {} is required", names.join(" ")));
        }
        if given.len() > 1 {
            return self.fail(format!("argument --{}: not allowed with argument --{}", given[1], given[0]));
        }
        Ok(Some(p))
    }

    /// An integer option, with argparse4j's message for a bad value.
    pub fn int<T: std::str::FromStr>(&self, p: &Parsed, name: &str, default: T) -> Result<T> {
        match p.get(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse() {
                Ok(x) => Ok(x),
                Err(_) => self.fail(format!("argument --{name}: could not convert '{v}' to Integer")),
            },
        }
    }
}
