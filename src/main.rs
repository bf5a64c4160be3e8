fn main() -> std::process::ExitCode {
    shotlist::cli::main()
}
