fn main() {
    std::process::exit(qrescue::cli::main());
}
