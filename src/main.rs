#![forbid(unsafe_code)]

fn main() {
    std::process::exit(qrescue::cli::main());
}
