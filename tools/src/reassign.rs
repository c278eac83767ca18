//! kafka-reassign-partitions and kafka-leader-election: not implemented yet.

use crate::error::{Result, ToolError};

pub async fn run_reassign(_args: &[String]) -> Result<i32> {
    Err(ToolError::Msg("kafka-reassign-partitions: not implemented yet in kafka-tools".into()))
}

pub async fn run_election(_args: &[String]) -> Result<i32> {
    Err(ToolError::Msg("kafka-leader-election: not implemented yet in kafka-tools".into()))
}
