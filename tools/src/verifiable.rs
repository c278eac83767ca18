//! kafka-verifiable-producer / kafka-verifiable-consumer: not implemented yet.

use crate::error::{Result, ToolError};

pub async fn run_producer(_args: &[String]) -> Result<i32> {
    Err(ToolError::Msg("kafka-verifiable-producer: not implemented yet in kafka-tools".into()))
}

pub async fn run_consumer(_args: &[String]) -> Result<i32> {
    Err(ToolError::Msg("kafka-verifiable-consumer: not implemented yet in kafka-tools".into()))
}
