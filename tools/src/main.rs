fn main() {
    eprintln!("kafka-tools: not implemented yet");
    std::process::exit(2);
}
