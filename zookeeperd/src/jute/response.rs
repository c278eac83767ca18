//! Reply bodies. Each knows how to write itself after a ReplyHeader.

use super::records::{encode_acls, Acl, Stat};
use super::{write_buffer, write_int, write_string, write_string_vec, Encode};
use bytes::BytesMut;

/// One result inside a multi reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// `opcode` is the create family member that was asked for.
    Create {
        opcode: i32,
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetChildren {
        children: Vec<String>,
    },
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    Error {
        err: i32,
    },
}

impl OpResult {
    fn header_type(&self) -> i32 {
        use super::request::op;
        match self {
            OpResult::Create { opcode, .. } => *opcode,
            OpResult::Delete => op::DELETE,
            OpResult::SetData { .. } => op::SET_DATA,
            OpResult::Check => op::CHECK,
            OpResult::GetChildren { .. } => op::GET_CHILDREN,
            OpResult::GetData { .. } => op::GET_DATA,
            OpResult::Error { .. } => op::ERROR,
        }
    }

    fn err(&self) -> i32 {
        match self {
            OpResult::Error { err } => *err,
            _ => 0,
        }
    }
}

/// A reply body; `Empty` for header-only replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Empty,
    Path(String),
    PathStat(String, Stat),
    Stat(Stat),
    Data(Option<Vec<u8>>, Stat),
    Acl(Vec<Acl>, Stat),
    Children(Vec<String>),
    Children2(Vec<String>, Stat),
    Multi(Vec<OpResult>),
    Strings(Vec<String>),
    Int(i32),
    WhoAmI(Vec<(String, String)>),
}

impl Encode for Response {
    fn encode(&self, w: &mut BytesMut) {
        match self {
            Response::Empty => {}
            Response::Path(p) => write_string(w, p),
            Response::PathStat(p, s) => {
                write_string(w, p);
                s.encode(w);
            }
            Response::Stat(s) => s.encode(w),
            Response::Data(d, s) => {
                write_buffer(w, d.as_deref());
                s.encode(w);
            }
            Response::Acl(a, s) => {
                encode_acls(w, a);
                s.encode(w);
            }
            Response::Children(c) => write_string_vec(w, c),
            Response::Children2(c, s) => {
                write_string_vec(w, c);
                s.encode(w);
            }
            Response::Multi(results) => {
                for r in results {
                    write_int(w, r.header_type());
                    w.extend_from_slice(&[0]); // done = false
                    write_int(w, r.err());
                    match r {
                        OpResult::Create { path, stat, .. } => {
                            write_string(w, path);
                            if let Some(s) = stat {
                                s.encode(w);
                            }
                        }
                        OpResult::SetData { stat } => stat.encode(w),
                        OpResult::GetChildren { children } => write_string_vec(w, children),
                        OpResult::GetData { data, stat } => {
                            write_buffer(w, data.as_deref());
                            stat.encode(w);
                        }
                        OpResult::Error { err } => write_int(w, *err),
                        OpResult::Delete | OpResult::Check => {}
                    }
                }
                write_int(w, -1);
                w.extend_from_slice(&[1]); // done = true
                write_int(w, -1);
            }
            Response::Strings(v) => write_string_vec(w, v),
            Response::Int(i) => write_int(w, *i),
            Response::WhoAmI(ids) => {
                write_int(w, ids.len() as i32);
                for (scheme, user) in ids {
                    write_string(w, scheme);
                    write_string(w, user);
                }
            }
        }
    }
}
