/// mimalloc, not the system's malloc: replaying a 100,000-job journal frees on one
/// thread some two million strings that other threads parsed, and glibc's free was
/// a third of that replay's samples (bench/README.md, d). The benchmarks that call
/// the library set the same allocator, so their figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shotlist::cli::main()
}
