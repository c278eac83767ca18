fn main() {
    eprintln!("kafkad: not implemented yet");
    std::process::exit(2);
}
