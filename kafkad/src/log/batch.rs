//! Record batch framing: the shared codec (`shared::kafka_format::batch`).

pub use shared::kafka_format::batch::*;

#[cfg(test)]
pub(crate) mod tests {
    pub use shared::kafka_format::batch::sample_batch;
}
