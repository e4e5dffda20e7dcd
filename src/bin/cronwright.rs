//! `cronwright`: the administrator's command. Everything lives in `cronwright::cli`.

fn main() -> std::process::ExitCode {
    cronwright::cli::main()
}
