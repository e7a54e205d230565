//! Thin entry point: parse the command line, run the subcommand, turn any error into one line on
//! stderr and exit code 2.

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A bug must still end as one line and exit code 2, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = format!(
            "pgtriage: internal error: {what}{place}; please report it with the command that caused it"
        );
        eprintln!("{}", line.replace(['\n', '\r'], " "));
        std::process::exit(2);
    }));
    let cli = match pgtriage::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    pgtriage::report::term::set_color(cli.color);
    match cli.command.run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pgtriage: {e}");
            ExitCode::from(2)
        }
    }
}
