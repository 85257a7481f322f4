//! `sledger completions SHELL` and `sledger man`: the shell completion
//! scripts (clap_complete) and man pages (clap_mangen), both generated
//! from the one definition of the arguments ([`crate::cli::args`]).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::args::Cli;

/// Writes `shell`'s completion script to standard output.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sledger", &mut script);
    to_stdout(&script).context("cannot write the completion script")
}

/// Writes `bytes` to standard output; a reader that stopped early (`| head`)
/// is not an error.
fn to_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes sledger(1) to standard output, or, with `dir`, sledger.1 and a
/// page per command (sledger-mine.1, sledger-key-new.1, ...) into `dir`.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .context("cannot render the man page")?;
        return to_stdout(&page).context("cannot write the man page");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = 0;
    write_pages(&cmd, "sledger", dir, &mut written)?;
    eprintln!(
        "wrote {} to {}",
        crate::cli::output::count(written, "man page"),
        dir.display()
    );
    Ok(())
}

/// `cmd`'s page as `name.1`, then each subcommand's, depth first.
fn write_pages(cmd: &clap::Command, name: &str, dir: &Path, written: &mut u64) -> Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone().name(name.to_owned()))
        .render(&mut page)
        .context("cannot render a man page")?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    *written += 1;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
