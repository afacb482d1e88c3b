//! Man pages and shell completions generated from the clap definitions (the one source of
//! truth for options and help text), so they never drift from the binary:
//!
//!     cargo run --locked --example gen_docs -- dist      # or scripts/gen-docs.sh
//!
//! writes `DIR/man/qrescue.8` plus one page per command (`qrescue-audit.8`, …; section 8:
//! system administration) and `DIR/completions/{qrescue.bash,_qrescue,qrescue.fish}`.
//! clap_mangen and clap_complete are dev-dependencies: the static binary does not carry them.

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;
use qrescue::cli::Cli;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("dist"));
    let man_dir = out.join("man");
    let comp_dir = out.join("completions");
    std::fs::create_dir_all(&man_dir)?;
    std::fs::create_dir_all(&comp_dir)?;

    let mut cmd = Cli::command();
    // Sets the subcommands' display names (`qrescue-audit`) and propagates global options.
    cmd.build();
    let page = |c: &clap::Command| {
        clap_mangen::Man::new(c.clone())
            .section("8")
            .source(format!("qrescue {}", env!("CARGO_PKG_VERSION")))
            .manual("System Administration")
            .generate_to(&man_dir)
    };
    let mut written = vec![page(&cmd)?];
    // `qrescue help CMD` is `qrescue CMD --help`: no page of its own.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        written.push(page(sub)?);
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell, &mut cmd, "qrescue", &comp_dir,
        )?);
    }
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}
